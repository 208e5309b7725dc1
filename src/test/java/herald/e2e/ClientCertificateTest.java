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
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** --tls-client-auth-policy: require (any certificate) and require-verify (signed by --tls-root-ca-file). */
class ClientCertificateTest {
  private static Certificates.Authority ca;
  private static Certificates.Issued signed;
  private static Certificates.Issued selfSigned;
  private static NodeProcess verifying;
  private static NodeProcess requiring;
  private static int verifyingPort;
  private static int requiringPort;

  @BeforeAll
  static void start() throws Exception {
    Path certs = Files.createTempDirectory("herald-certs-");
    ca = Certificates.authority(certs, "clients");
    Certificates.Issued server = Certificates.issue(ca, certs, "server", "herald-node", false);
    signed = Certificates.issue(ca, certs, "app", "orders-app", false);
    selfSigned = Certificates.selfSigned(certs, "stranger", "stranger");
    verifyingPort = NodeProcess.freePort();
    verifying = NodeProcess.start(Files.createTempDirectory("herald-e2e-"), "--https-address", "127.0.0.1:" + verifyingPort,
        "--tls-cert", server.cert().toString(), "--tls-key", server.key().toString(),
        "--tls-client-auth-policy", "require-verify", "--tls-root-ca-file", ca.cert().toString());
    requiringPort = NodeProcess.freePort();
    requiring = NodeProcess.start(Files.createTempDirectory("herald-e2e-"), "--https-address", "127.0.0.1:" + requiringPort,
        "--tls-cert", server.cert().toString(), "--tls-key", server.key().toString(),
        "--tls-client-auth-policy", "require");
  }

  @AfterAll
  static void stop() throws Exception {
    if (verifying != null) verifying.close();
    if (requiring != null) requiring.close();
  }

  @Test
  void requireVerifyAdmitsOnlyCertificatesTheCaSigned() throws Exception {
    assertEquals(200, publish(verifyingPort, Certificates.clientContext(ca.cert(), signed)));
    // TLS 1.3 reports the refusal after the handshake: the request fails either way.
    assertThrows(IOException.class, () -> publish(verifyingPort, Certificates.clientContext(ca.cert(), selfSigned)));
    assertThrows(IOException.class, () -> publish(verifyingPort, Certificates.clientContext(ca.cert(), null)));
  }

  @Test
  void requireAdmitsAnyCertificateButNotNone() throws Exception {
    assertEquals(200, publish(requiringPort, Certificates.clientContext(ca.cert(), signed)));
    assertEquals(200, publish(requiringPort, Certificates.clientContext(ca.cert(), selfSigned)));
    assertThrows(IOException.class, () -> publish(requiringPort, Certificates.clientContext(ca.cert(), null)));
  }

  private static int publish(int port, SSLContext ctx) throws Exception {
    HttpClient client = HttpClient.newBuilder().sslContext(ctx).build();
    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + "/pub?topic=certs"))
        .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
    return r.statusCode();
  }
}
