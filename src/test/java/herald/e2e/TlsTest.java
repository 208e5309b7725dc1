package herald.e2e;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLHandshakeException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** HTTPS and WSS on --https-address with --tls-required: plain HTTP answers only /ping. */
class TlsTest extends SharedNode {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static Path certs;
  private static Certificates.Authority ca;
  private static Certificates.Issued server;
  private static int httpsPort;
  private static HttpClient https;

  @BeforeAll
  static void start() throws Exception {
    certs = Files.createTempDirectory("herald-certs-");
    ca = Certificates.authority(certs, "clients");
    server = Certificates.issue(ca, certs, "server", "herald-node-1", false);
    httpsPort = NodeProcess.freePort();
    startNode("--https-address", "127.0.0.1:" + httpsPort, "--tls-cert", server.cert().toString(),
        "--tls-key", server.key().toString(), "--tls-required");
    https = HttpClient.newBuilder().sslContext(Certificates.clientContext(ca.cert(), null)).build();
  }

  @Test
  void publishAndConsumeOverHttpsAndWss() throws Exception {
    String topic = unique("tls-orders");
    assertEquals(200, send("POST", "/topic/create?topic=" + topic, "").statusCode());
    assertEquals(200, send("POST", "/channel/create?topic=" + topic + "&channel=c", "").statusCode());
    try (WsConsumer consumer = WsConsumer.subscribe(https,
        "wss://127.0.0.1:" + httpsPort + "/sub?topic=" + topic + "&channel=c", Map.of())) {
      consumer.send("RDY 5");
      HttpResponse<String> pub = send("POST", "/pub?topic=" + topic, "secret payload");
      assertEquals(200, pub.statusCode(), pub.body());
      assertEquals("TLSv1.3", pub.sslSession().orElseThrow().getProtocol());
      assertEquals(200, send("POST", "/mpub?topic=" + topic, "two\nthree").statusCode());
      var got = consumer.messages(3, Duration.ofSeconds(20));
      assertEquals("secret payload", got.get(0).json().path("body").asText());
      assertEquals("three", got.get(2).json().path("body").asText());
    }
    // A client that does not trust the CA refuses the node (the node is who it says it is).
    HttpClient untrusting = HttpClient.newHttpClient();
    assertThrows(SSLHandshakeException.class, () -> untrusting.send(
        HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + httpsPort + "/ping")).build(), HttpResponse.BodyHandlers.ofString()));
  }

  @Test
  void plainHttpIsRefusedExceptPing() throws Exception {
    assertEquals(200, http.get("/ping").status());
    HttpClientHelper.Response pub = http.post("/pub?topic=tls-plain", "in clear");
    assertEquals(403, pub.status());
    assertEquals("TLS_REQUIRED", pub.code());
    assertEquals(httpsPort, pub.json().path("https_port").asInt());
    assertEquals(403, http.get("/stats").status());
    assertEquals(403, WsConsumer.refusal(HttpClient.newHttpClient(), node.wsUrl() + "/sub?topic=tls-plain&channel=c", Map.of()));
  }

  @Test
  void aRenewedCertificateIsServedWithoutARestart() throws Exception {
    assertEquals("CN=herald-node-1", servedSubject());
    Certificates.Issued renewed = Certificates.issue(ca, certs, "renewed", "herald-node-1-renewed", false);
    // As a renewal tool does: new files moved over the old ones.
    Files.move(renewed.key(), server.key(), StandardCopyOption.REPLACE_EXISTING);
    Files.move(renewed.cert(), server.cert(), StandardCopyOption.REPLACE_EXISTING);
    Await.until(Duration.ofSeconds(20), "new connections get the renewed certificate",
        () -> servedSubject().equals("CN=herald-node-1-renewed"));
  }

  /** The subject of the certificate a new connection is served. */
  private static String servedSubject() throws Exception {
    HttpClient fresh = HttpClient.newBuilder().sslContext(Certificates.clientContext(ca.cert(), null)).build();
    HttpResponse<String> r = fresh.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + httpsPort + "/ping")).build(),
        HttpResponse.BodyHandlers.ofString());
    return ((X509Certificate) r.sslSession().orElseThrow().getPeerCertificates()[0]).getSubjectX500Principal().getName();
  }

  private static HttpResponse<String> send(String method, String path, String body) throws IOException, InterruptedException {
    return https.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + httpsPort + path))
        .method(method, HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }
}
