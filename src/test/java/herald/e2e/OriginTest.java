package herald.e2e;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Browser protections on a node without authorization: a page on another origin can neither change
 * state nor open a WebSocket; clients that send no Origin (curl, libraries) are unaffected.
 */
class OriginTest extends SharedNode {
  private static final String FRIEND = "https://console.example.com";
  private static final HttpClient CLIENT = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    startNode("--allowed-origins", FRIEND + "/");
  }

  @Test
  void aForeignPageCannotDeleteATopic() throws Exception {
    String topic = unique("origin-victim");
    http.createChannel(topic, "keep");
    // What a form or fetch(mode: no-cors) on another site sends: a "simple" text/plain POST.
    HttpResponse<String> evil = post("/topic/delete?topic=" + topic, "http://evil.example:8080");
    assertEquals(403, evil.statusCode(), evil.body());
    assertEquals("{\"message\":\"FORBIDDEN_ORIGIN\"}", evil.body());
    assertEquals(1, http.stats(topic, null).path("topics").size(), "the topic survives");
    // A sandboxed or file: page says "null".
    assertEquals(403, post("/pub?topic=" + topic, "null").statusCode());
    // Same host on another port is another origin.
    assertEquals(403, post("/pub?topic=" + topic, "http://127.0.0.1:1").statusCode());

    // The node's own console, an allowed origin, and a client without Origin all may.
    assertEquals(200, post("/pub?topic=" + topic, node.baseUrl()).statusCode());
    assertEquals(200, post("/pub?topic=" + topic, FRIEND).statusCode());
    assertEquals(200, http.post("/pub?topic=" + topic, "no origin").status());
    // Reading stays possible: without CORS headers a foreign page cannot read the answer anyway.
    HttpResponse<String> read = CLIENT.send(HttpRequest.newBuilder(URI.create(node.baseUrl() + "/stats?format=json"))
        .header("Origin", "http://evil.example:8080").GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, read.statusCode());
    assertTrue(read.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), read.headers().toString());
    assertEquals(200, http.post("/topic/delete?topic=" + topic, "").status());
  }

  @Test
  void aForeignPageCannotOpenAWebSocket() throws Exception {
    String topic = unique("origin-ws");
    String url = node.wsUrl() + "/sub?topic=" + topic + "&channel=c";
    assertEquals(403, WsConsumer.refusal(CLIENT, url, Map.of("Origin", "http://evil.example:8080")));
    try (WsConsumer own = WsConsumer.subscribe(CLIENT, url, Map.of("Origin", node.baseUrl()))) {
      own.send("RDY 1");
    }
    try (WsConsumer plain = WsConsumer.subscribe(node, "topic=" + topic + "&channel=c")) {
      plain.send("RDY 1");
    }
  }

  @Test
  void theConsoleForbidsFramingSniffingAndForeignScripts() throws Exception {
    HttpResponse<String> index = CLIENT.send(HttpRequest.newBuilder(URI.create(node.baseUrl() + "/")).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, index.statusCode());
    String csp = index.headers().firstValue("Content-Security-Policy").orElse("");
    assertTrue(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), csp);
    assertEquals("DENY", index.headers().firstValue("X-Frame-Options").orElse(""));
    assertEquals("nosniff", index.headers().firstValue("X-Content-Type-Options").orElse(""));
    HttpResponse<String> api = CLIENT.send(HttpRequest.newBuilder(URI.create(node.baseUrl() + "/ping")).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals("nosniff", api.headers().firstValue("X-Content-Type-Options").orElse(""));
  }

  @Test
  void anOpenNodeSaysSoOnceAtStart() throws Exception {
    Await.until(Duration.ofSeconds(10), "the open-node warning in the log", () -> node.logTail().contains("no --auth-file"));
    String log = node.logTail();
    assertEquals(log.indexOf("no --auth-file"), log.lastIndexOf("no --auth-file"), log);
    assertTrue(log.contains("may publish, subscribe, create, delete"), log);
  }

  private static HttpResponse<String> post(String path, String origin) throws Exception {
    return CLIENT.send(HttpRequest.newBuilder(URI.create(node.baseUrl() + path))
        .header("Origin", origin).header("Content-Type", "text/plain")
        .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
  }
}
