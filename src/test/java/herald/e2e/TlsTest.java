package herald.e2e;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

import javax.net.ssl.SSLContext;
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
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HTTPS and WSS on --https-address with --tls-required: plain HTTP answers only /ping. The NSQ
 * TCP listener upgrades to TLS after IDENTIFY (tls_v1) with the same certificate, and refuses
 * commands before the upgrade.
 */
class TlsTest extends SharedNode {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration WAIT = Duration.ofSeconds(20);
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
    startNode("--https-address", "127.0.0.1:0", "--tls-cert", server.cert().toString(),
        "--tls-key", server.key().toString(), "--tls-required");
    httpsPort = node.httpsPort();
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
  void tcpCommandsBeforeTheTlsUpgradeAreRefused() throws Exception {
    try (NsqSocket s = new NsqSocket(node.tcpPort())) {
      JsonNode answer = s.identify("{\"feature_negotiation\":true}").json();
      assertFalse(answer.path("tls_v1").asBoolean(true), "not asked for, not negotiated");
      s.send("PUB tls-plain", "in clear");
      assertEquals("error E_INVALID cannot PUB in current state (TLS required)", String.valueOf(s.lastFrameBeforeClose(WAIT)));
    }
    try (NsqSocket s = new NsqSocket(node.tcpPort())) {
      s.send("SUB tls-plain c");
      assertEquals("error E_INVALID cannot SUB in current state (TLS required)", String.valueOf(s.lastFrameBeforeClose(WAIT)));
    }
    assertEquals(0, stats("tls-plain").path("topics").size(), "nothing was published or subscribed in clear");
  }

  @Test
  void tcpUpgradesToTlsAfterIdentify() throws Exception {
    String topic = unique("tcp-tls");
    SSLContext trusting = Certificates.clientContext(ca.cert(), null);
    try (NsqSocket pub = upgraded(trusting, "{\"feature_negotiation\":true,\"tls_v1\":true}");
         NsqSocket sub = upgraded(trusting, "{\"feature_negotiation\":true,\"tls_v1\":true,\"client_id\":\"tls-sub\"}")) {
      assertEquals("TLSv1.3", pub.tlsSession().getProtocol());
      pub.send("PUB " + topic, "secret over tcp");
      assertEquals("response OK", pub.next(WAIT).toString());
      sub.send("SUB " + topic + " c");
      assertEquals("response OK", sub.next(WAIT).toString());
      sub.send("RDY 1");
      NsqSocket.Frame m = sub.next(WAIT);
      assertEquals("secret over tcp", m.body());
      sub.send("FIN " + m.id());
      JsonNode client = Await.value(WAIT, "the TLS client in /stats with its FIN", () -> {
        JsonNode c = stats(topic).path("topics").path(0).path("channels").path(0).path("clients").path(0);
        return c.path("finish_count").asLong() == 1 ? c : null;
      });
      assertEquals("tls-sub", client.path("client_id").asText());
      assertTrue(client.path("tls").asBoolean(false));
      assertEquals("TLS1.3", client.path("tls_version").asText(), "nsqd's (Go's) name for it");
      assertEquals(sub.tlsSession().getCipherSuite(), client.path("tls_cipher_suite").asText());
      // A fatal error through TLS is read before the close.
      pub.send("PUB bad!topic", "x");
      assertEquals("error E_BAD_TOPIC PUB topic name \"bad!topic\" is not valid", String.valueOf(pub.lastFrameBeforeClose(WAIT)));
    }
    // A client that does not trust the node's CA stops at the handshake.
    try (NsqSocket s = new NsqSocket(node.tcpPort())) {
      assertTrue(s.identify("{\"feature_negotiation\":true,\"tls_v1\":true}").json().path("tls_v1").asBoolean(false));
      assertThrows(SSLHandshakeException.class, () -> s.startTls(SSLContext.getDefault()));
    }
  }

  @Test
  void nsqjsPublishesAndConsumesOverTls() throws Exception {
    String topic = unique("nsqjs-tls");
    JsonNode result = Nsqjs.run("tls", "127.0.0.1:" + node.tcpPort(), topic, ca.cert().toString());
    assertEquals(List.of("tls-1", "tls-2", "tls-3"), JSON.convertValue(result.path("seen"), List.class), result::toString);
  }

  /** A TCP connection upgraded to TLS after this IDENTIFY (which must ask for tls_v1). */
  private static NsqSocket upgraded(SSLContext ctx, String identify) throws Exception {
    NsqSocket s = new NsqSocket(node.tcpPort());
    JsonNode answer = s.identify(identify).json();
    assertTrue(answer.path("tls_v1").asBoolean(false), answer::toString);
    assertEquals("response OK", s.startTls(ctx).toString(), "nsqd's OK after the handshake");
    return s;
  }

  private static JsonNode stats(String topic) throws Exception {
    HttpResponse<String> r = send("GET", "/stats?format=json&topic=" + topic, "");
    assertEquals(200, r.statusCode(), r.body());
    return JSON.readTree(r.body());
  }

  @Test
  void aRenewedCertificateIsServedWithoutARestart() throws Exception {
    assertEquals("CN=herald-node-1", servedSubject());
    assertEquals("CN=herald-node-1", tcpServedSubject());
    Certificates.Issued renewed = Certificates.issue(ca, certs, "renewed", "herald-node-1-renewed", false);
    // As a renewal tool does: new files moved over the old ones.
    Files.move(renewed.key(), server.key(), StandardCopyOption.REPLACE_EXISTING);
    Files.move(renewed.cert(), server.cert(), StandardCopyOption.REPLACE_EXISTING);
    Await.until(Duration.ofSeconds(20), "new connections get the renewed certificate",
        () -> servedSubject().equals("CN=herald-node-1-renewed"));
    assertEquals("CN=herald-node-1-renewed", tcpServedSubject(), "the TCP listener's TLS reads the same files");
  }

  private static String tcpServedSubject() throws Exception {
    try (NsqSocket s = upgraded(Certificates.clientContext(ca.cert(), null), "{\"feature_negotiation\":true,\"tls_v1\":true}")) {
      return ((X509Certificate) s.tlsSession().getPeerCertificates()[0]).getSubjectX500Principal().getName();
    }
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
