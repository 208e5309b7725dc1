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
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --tls-client-auth-policy: require (any certificate) and require-verify (signed by
 * --tls-root-ca-file), on HTTPS and on the NSQ TCP listener's TLS, which the policy makes required.
 */
class ClientCertificateTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
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
    verifying = NodeProcess.start(Files.createTempDirectory("herald-e2e-"), "--https-address", "127.0.0.1:0",
        "--tls-cert", server.cert().toString(), "--tls-key", server.key().toString(),
        "--tls-client-auth-policy", "require-verify", "--tls-root-ca-file", ca.cert().toString());
    verifyingPort = verifying.httpsPort();
    requiring = NodeProcess.start(Files.createTempDirectory("herald-e2e-"), "--https-address", "127.0.0.1:0",
        "--tls-cert", server.cert().toString(), "--tls-key", server.key().toString(),
        "--tls-client-auth-policy", "require");
    requiringPort = requiring.httpsPort();
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

  @Test
  void tcpNeedsTlsWithAVerifiedClientCertificate() throws Exception {
    // As nsqd: a client certificate policy makes TLS required on TCP.
    try (NsqSocket s = new NsqSocket(verifying.tcpPort())) {
      s.send("PUB certs", "in clear");
      assertEquals("error E_INVALID cannot PUB in current state (TLS required)", String.valueOf(s.lastFrameBeforeClose(WAIT)));
    }
    try (NsqSocket s = tlsRequested(verifying)) {
      assertEquals("response OK", s.startTls(Certificates.clientContext(ca.cert(), signed)).toString());
      s.send("PUB certs", "with a certificate");
      assertEquals("response OK", s.next(WAIT).toString());
    }
    for (Certificates.Issued refused : new Certificates.Issued[] {selfSigned, null}) {
      try (NsqSocket s = tlsRequested(verifying)) {
        // TLS 1.3 reports the refusal after the client's handshake: its first read fails.
        assertThrows(IOException.class, () -> {
          s.startTls(Certificates.clientContext(ca.cert(), refused));
          s.send("PUB certs", "refused");
          s.next(WAIT);
        });
      }
    }
  }

  /** A TCP connection whose IDENTIFY asked for TLS and got it. */
  private static NsqSocket tlsRequested(NodeProcess node) throws Exception {
    NsqSocket s = new NsqSocket(node.tcpPort());
    assertTrue(s.identify("{\"feature_negotiation\":true,\"tls_v1\":true}").json().path("tls_v1").asBoolean(false));
    return s;
  }

  private static int publish(int port, SSLContext ctx) throws Exception {
    HttpClient client = HttpClient.newBuilder().sslContext(ctx).build();
    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + "/pub?topic=certs"))
        .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
    return r.statusCode();
  }
}
