package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Idempotent publish against a real node: X-Herald-Msg-Id on /pub, the id variant of binary /mpub,
 * the topic's own dedup window, the count limit (50 ids per topic here), and bad ids.
 */
class IdempotentPublishTest extends SharedNode {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String ID = "X-Herald-Msg-Id";
  private static final int MAX_IDS = 50;

  @BeforeAll
  static void start() throws Exception {
    startNode("--dedup-max-ids", String.valueOf(MAX_IDS));
  }

  private static JsonNode topicStats(String topic) throws Exception {
    return http.stats(topic, null).path("topics").get(0);
  }

  private static HttpClientHelper.Response pub(String topic, String body, String id) throws Exception {
    return http.post("/pub?topic=" + topic, body, ID, id);
  }

  /**
   * The bodies a new consumer of {@code channel} gets up to and including {@code marker}, a message
   * published last without an id: a stored duplicate would come before it (nothing is requeued
   * here), so no "nothing more arrives" wait is needed.
   */
  private static List<String> consumeUpTo(String topic, String channel, String marker) throws Exception {
    assertEquals(200, http.post("/pub?topic=" + topic, marker).status());
    List<String> bodies = new ArrayList<>();
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=" + channel)) {
      c.send("RDY 100");
      String body;
      do {
        WsConsumer.Frame f = c.messages(1, WAIT).get(0);
        body = f.json().path("body").asText();
        bodies.add(body);
        c.send("FIN " + f.json().path("id").asText());
      } while (!body.equals(marker));
    }
    return bodies;
  }

  /** Herald's binary /mpub variant: [count]([id length][id][size][body])*. */
  static byte[] bodyWithIds(String... idsAndBodies) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(ByteBuffer.allocate(4).putInt(idsAndBodies.length / 2).array());
    for (int i = 0; i < idsAndBodies.length; i += 2) {
      byte[] id = idsAndBodies[i].getBytes(StandardCharsets.ISO_8859_1);
      byte[] body = idsAndBodies[i + 1].getBytes(StandardCharsets.UTF_8);
      out.write(id.length);
      out.writeBytes(id);
      out.writeBytes(ByteBuffer.allocate(4).putInt(body.length).array());
      out.writeBytes(body);
    }
    return out.toByteArray();
  }

  @Test
  void theSameIdTwiceIsDeliveredOnce() throws Exception {
    String topic = unique("pay");
    http.createChannel(topic, "billing");
    assertEquals(200, pub(topic, "invoice 1: 10 EUR", "invoice-1").status());
    HttpClientHelper.Response retry = pub(topic, "invoice 1: 10 EUR", "invoice-1");
    assertEquals(200, retry.status());
    assertEquals("OK", retry.body(), "a duplicate is answered as if stored");
    assertEquals(200, pub(topic, "invoice 2: 20 EUR", "invoice-2").status());

    assertEquals(List.of("invoice 1: 10 EUR", "invoice 2: 20 EUR", "end"), consumeUpTo(topic, "billing", "end"));
    JsonNode stats = topicStats(topic);
    assertEquals(3, stats.path("message_count").asInt());
    assertEquals(1, stats.path("dedup").path("duplicates").asInt());
    assertEquals(2, stats.path("dedup").path("ids").asInt());
    assertEquals(120_000, stats.path("dedup").path("window_ms").asInt(), "the node's default, 2 minutes");
    String series = "herald_topic_duplicates_total{node=\"" + node.httpAddress() + "\",topic=\"" + topic + "\"}";
    assertEquals(1.0, MetricsTest.samples(http.get("/metrics").body()).get(series));
  }

  @Test
  void afterTheTopicsWindowTheSameIdIsStoredAgain() throws Exception {
    String topic = unique("window");
    http.createChannel(topic, "c");
    long window = 3000;
    assertEquals(200, http.post("/topic/config?topic=" + topic, "{\"dedup_window\": \"3s\"}").status());
    assertEquals(window, topicStats(topic).path("dedup").path("window_ms").asLong());

    long sent = System.nanoTime();
    assertEquals(200, pub(topic, "tick", "k").status());
    assertEquals(200, pub(topic, "tick", "k").status());
    long answered = System.nanoTime();
    // The node stamps each publish between our send and its answer: inside the window, one copy.
    if (answered - sent < window * 1_000_000) assertEquals(1, topicStats(topic).path("message_count").asInt());

    // A publisher that keeps retrying the same id stores it again once the window has passed.
    Await.until(WAIT, "the id stored again after its window", () -> {
      assertEquals(200, pub(topic, "tick", "k").status());
      return topicStats(topic).path("message_count").asInt() == 2;
    });
    long elapsedMs = (System.nanoTime() - sent) / 1_000_000;
    assertTrue(elapsedMs >= window, "stored again only after the window: " + elapsedMs + " ms");
    assertEquals(List.of("tick", "tick", "end"), consumeUpTo(topic, "c", "end"));
  }

  @Test
  void anMpubRepeatingEarlierIdsStoresOnlyTheNewOnes() throws Exception {
    String topic = unique("batch");
    http.createChannel(topic, "c");
    assertEquals(200, pub(topic, "a", "id-a").status());
    HttpClientHelper.Response r = http.post("/mpub?topic=" + topic + "&binary=true&msg_ids=true",
        bodyWithIds("id-a", "a again", "id-b", "b", "", "no id", "id-c", "c", "id-b", "b again"));
    assertEquals(200, r.status(), r.body());
    assertEquals(List.of("a", "b", "no id", "c", "end"), consumeUpTo(topic, "c", "end"));
    assertEquals(2, topicStats(topic).path("dedup").path("duplicates").asInt());
  }

  @Test
  void badIdsAreRefusedAndNothingIsStored() throws Exception {
    String topic = unique("bad");
    http.createChannel(topic, "c");
    HttpApiTest.assertError(pub(topic, "m", "x".repeat(65)), 400, "MSG_ID_TOO_LONG");
    HttpApiTest.assertError(pub(topic, "m", "has space"), 400, "INVALID_MSG_ID");
    HttpApiTest.assertError(pub(topic, "m", "tab\there"), 400, "INVALID_MSG_ID");
    // The JDK's client will not send a byte above 0x7e in a header; a raw request does (UTF-8 "café").
    String raw = rawPub(topic, ID + ": caf\u00c3\u00a9");
    assertTrue(raw.startsWith("HTTP/1.1 400") && raw.contains("INVALID_MSG_ID"), raw);
    // Two ids on one message: neither is taken for the other.
    String twice = rawPub(topic, ID + ": m-a\r\n" + ID.toLowerCase(java.util.Locale.ROOT) + ": m-b");
    assertTrue(twice.startsWith("HTTP/1.1 400") && twice.contains("INVALID_MSG_ID"), twice);
    String mpub = "/mpub?topic=" + topic + "&binary=true&msg_ids=true";
    HttpApiTest.assertError(http.post(mpub, bodyWithIds("ok", "m1", "x".repeat(65), "m2")), 400, "MSG_ID_TOO_LONG");
    HttpApiTest.assertError(http.post(mpub, bodyWithIds("ok", "m1", "bad\u0001", "m2")), 400, "INVALID_MSG_ID");
    HttpApiTest.assertError(http.post("/mpub?topic=" + topic + "&msg_ids=true", "m1\nm2"), 400, "MSG_IDS_NEED_BINARY");
    assertEquals(0, topicStats(topic).path("message_count").asInt(), "a refused request stores nothing");
    assertEquals(200, pub(topic, "m", "x".repeat(64)).status(), "64 characters is the limit");
  }

  /** A /pub written byte by byte, for headers the JDK's client refuses to send; the status line, then the answer. */
  private static String rawPub(String topic, String latin1Headers) throws Exception {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", Integer.parseInt(node.httpAddress().split(":")[1]))) {
      String request = "POST /pub?topic=" + topic + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + latin1Headers
          + "\r\nContent-Length: 1\r\nConnection: close\r\n\r\nm";
      socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
      return answer.lines().findFirst().orElse("") + "\n" + answer;
    }
  }

  @Test
  void pastTheCountLimitTheOldestIdIsForgotten() throws Exception {
    String topic = unique("limit");
    http.createChannel(topic, "c");
    String[] first = new String[2 * MAX_IDS];
    for (int i = 0; i < MAX_IDS; i++) {
      first[2 * i] = "id-" + i;
      first[2 * i + 1] = "m" + i;
    }
    String mpub = "/mpub?topic=" + topic + "&binary=true&msg_ids=true";
    assertEquals(200, http.post(mpub, bodyWithIds(first)).status());
    assertEquals(MAX_IDS, topicStats(topic).path("dedup").path("ids").asInt());
    assertEquals(0, topicStats(topic).path("dedup").path("forgotten_early").asInt());
    // One more id: the topic remembers at most 50, so the oldest (id-0) goes before its window ends.
    assertEquals(200, pub(topic, "one more", "id-new").status());
    JsonNode dedup = topicStats(topic).path("dedup");
    assertEquals(MAX_IDS, dedup.path("ids").asInt());
    assertEquals(1, dedup.path("forgotten_early").asInt());
    assertEquals(200, pub(topic, "m1", "id-1").status());
    assertEquals(MAX_IDS + 1, topicStats(topic).path("message_count").asInt(), "id-1 is still remembered");
    assertEquals(200, pub(topic, "m0", "id-0").status());
    assertEquals(MAX_IDS + 2, topicStats(topic).path("message_count").asInt(), "id-0 was forgotten: stored again");
  }

  @Test
  void topicConfigChecksItsInput() throws Exception {
    String topic = unique("config");
    HttpApiTest.assertError(http.post("/topic/config?topic=" + topic, "{\"dedup_window\": \"1s\"}"), 404, "TOPIC_NOT_FOUND");
    assertEquals(200, http.post("/topic/create?topic=" + topic, "").status());
    for (String bad : List.of("not json", "[]", "{\"dedup_window\": 5}", "{\"dedup_window\": \"soon\"}",
        "{\"dedup_window\": \"-1s\"}", "{\"no_such_setting\": \"1s\"}",
        // Not one JSON object: text after it, or a setting twice (which one would win is a guess).
        "{\"dedup_window\": \"10m\"} and more", "{\"dedup_window\": \"10m\", \"dedup_window\": \"1s\"}")) {
      HttpApiTest.assertError(http.post("/topic/config?topic=" + topic, bad), 400, "INVALID_CONFIG");
    }
    assertEquals(120_000, topicStats(topic).path("dedup").path("window_ms").asInt(), "nothing changed");
    assertEquals(200, http.post("/topic/config?topic=" + topic, "{\"dedup_window\": \"10m\"}").status());
    assertEquals(600_000, topicStats(topic).path("dedup").path("window_ms").asInt());
    assertEquals(200, http.post("/topic/config?topic=" + topic, "{\"dedup_window\": null}").status());
    assertEquals(120_000, topicStats(topic).path("dedup").path("window_ms").asInt(), "back to the node's default");
  }
}
