package herald.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** --tls-client-auth-policy: require (any certificate) and require-verify (signed by --tls-root-ca-file). */
class ClientCertificateTest {
  private static TestCertificates certs;
  private static TestCertificates.Issued signed;
  private static TestCertificates.Issued selfSigned;
  private static NodeProcess verifying;
  private static NodeProcess requiring;
  private static int verifyingPort;
  private static int requiringPort;

  @BeforeAll
  static void start() throws Exception {
    certs = TestCertificates.create();
    TestCertificates.Issued server = certs.issue("server", "herald-node", true);
    signed = certs.issue("app", "orders-app", true);
    selfSigned = certs.issue("stranger", "stranger", false);
    verifyingPort = NodeProcess.freePort();
    verifying = NodeProcess.start(Files.createTempDirectory("herald-e2e-"), "--https-address", "127.0.0.1:" + verifyingPort,
        "--tls-cert", server.chainPem().toString(), "--tls-key", server.keyPem().toString(),
        "--tls-client-auth-policy", "require-verify", "--tls-root-ca-file", certs.caPem.toString());
    requiringPort = NodeProcess.freePort();
    requiring = NodeProcess.start(Files.createTempDirectory("herald-e2e-"), "--https-address", "127.0.0.1:" + requiringPort,
        "--tls-cert", server.chainPem().toString(), "--tls-key", server.keyPem().toString(),
        "--tls-client-auth-policy", "require");
  }

  @AfterAll
  static void stop() throws Exception {
    if (verifying != null) verifying.close();
    if (requiring != null) requiring.close();
  }

  @Test
  void requireVerifyAdmitsOnlyCertificatesTheCaSigned() throws Exception {
    assertEquals(200, publish(verifyingPort, certs.clientContext(signed)));
    // TLS 1.3 reports the refusal after the handshake: the request fails either way.
    assertThrows(IOException.class, () -> publish(verifyingPort, certs.clientContext(selfSigned)));
    assertThrows(IOException.class, () -> publish(verifyingPort, certs.clientContext(null)));
  }

  @Test
  void requireAdmitsAnyCertificateButNotNone() throws Exception {
    assertEquals(200, publish(requiringPort, certs.clientContext(signed)));
    assertEquals(200, publish(requiringPort, certs.clientContext(selfSigned)));
    assertThrows(IOException.class, () -> publish(requiringPort, certs.clientContext(null)));
  }

  private static int publish(int port, SSLContext ctx) throws Exception {
    HttpClient client = HttpClient.newBuilder().sslContext(ctx).build();
    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + "/pub?topic=certs"))
        .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
    return r.statusCode();
  }
}
