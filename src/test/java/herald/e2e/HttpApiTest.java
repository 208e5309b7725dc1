package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** nsqd's HTTP API and its error codes, against a real node. */
class HttpApiTest extends SharedNode {

  @BeforeAll
  static void start() throws Exception {
    startNode("--max-msg-size", "100", "--max-body-size", "1000",
        "--max-req-timeout", "10s");
  }

  static JsonNode topicStats(String topic) throws Exception {
    JsonNode topics = http.stats(topic, null).path("topics");
    assertEquals(1, topics.size(), "topic " + topic + " in /stats");
    return topics.get(0);
  }

  static void assertError(HttpClientHelper.Response r, int status, String code) {
    assertEquals(status, r.status(), r.body());
    assertEquals(code, r.code(), r.body());
  }

  @Test
  void pingAndInfo() throws Exception {
    HttpClientHelper.Response ping = http.get("/ping");
    assertEquals(200, ping.status());
    assertEquals("OK", ping.body());
    JsonNode info = http.get("/info").json();
    assertEquals("0.1.0", info.path("version").asText());
    assertEquals(100, info.path("limits").path("max_msg_size").asInt());
    assertTrue(info.path("node").asText().startsWith("pekko://herald@"));
  }

  @Test
  void pubAndMpubCountMessages() throws Exception {
    String topic = unique("counts");
    assertEquals("OK", http.post("/pub?topic=" + topic, "hello").body());
    assertEquals(200, http.post("/mpub?topic=" + topic, "a\nbb\n\nccc\n").status());
    JsonNode t = topicStats(topic);
    assertEquals(4, t.path("message_count").asInt());
    assertEquals(4, t.path("depth").asInt(), "no channel yet: the topic keeps them");
    assertEquals(5 + 1 + 2 + 3, t.path("message_bytes").asInt());
  }

  @Test
  void binaryMpub() throws Exception {
    String topic = unique("binmpub");
    assertEquals(200, http.post("/mpub?topic=" + topic + "&binary=true", binaryBody("x", "yy", "zzz")).status());
    assertEquals(3, topicStats(topic).path("message_count").asInt());
  }

  static byte[] binaryBody(String... messages) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(ByteBuffer.allocate(4).putInt(messages.length).array());
    for (String m : messages) {
      byte[] b = m.getBytes(StandardCharsets.UTF_8);
      out.writeBytes(ByteBuffer.allocate(4).putInt(b.length).array());
      out.writeBytes(b);
    }
    return out.toByteArray();
  }

  @Test
  void pubErrors() throws Exception {
    assertError(http.post("/pub", "x"), 400, "MISSING_ARG_TOPIC");
    assertError(http.post("/pub?topic=", "x"), 400, "INVALID_TOPIC");
    assertError(http.post("/pub?topic=bad*name", "x"), 400, "INVALID_TOPIC");
    assertError(http.post("/pub?topic=" + "t".repeat(65), "x"), 400, "INVALID_TOPIC");
    String topic = unique("puberr");
    assertError(http.post("/pub?topic=" + topic, ""), 400, "MSG_EMPTY");
    assertError(http.post("/pub?topic=" + topic, "x".repeat(101)), 413, "MSG_TOO_BIG");
    assertError(http.post("/pub?topic=" + topic + "&defer=abc", "x"), 400, "INVALID_DEFER");
    assertError(http.post("/pub?topic=" + topic + "&defer=-1", "x"), 400, "INVALID_DEFER");
    assertError(http.post("/pub?topic=" + topic + "&defer=10001", "x"), 400, "INVALID_DEFER");
    assertEquals(200, http.post("/pub?topic=" + topic, "x".repeat(100)).status(), "exactly max-msg-size is fine");
    assertEquals(1, topicStats(topic).path("message_count").asInt(), "rejected publishes stored nothing");
  }

  @Test
  void mpubIsAllOrNothing() throws Exception {
    String topic = unique("mpuberr");
    assertEquals(200, http.post("/topic/create?topic=" + topic, "").status());
    assertError(http.post("/mpub?topic=" + topic, "ok\n" + "x".repeat(101) + "\nok"), 413, "MSG_TOO_BIG");
    assertError(http.post("/mpub?topic=" + topic, "y\n".repeat(600)), 413, "BODY_TOO_BIG");
    byte[] truncated = binaryBody("abc", "def");
    byte[] cut = java.util.Arrays.copyOf(truncated, truncated.length - 1);
    assertError(http.post("/mpub?topic=" + topic + "&binary=true", cut), 413, "BAD_MESSAGE");
    assertError(http.post("/mpub?topic=" + topic + "&binary=true", new byte[] {0, 0}), 413, "BAD_BODY");
    assertError(http.post("/mpub?topic=" + topic + "&binary=true", binaryBody("ok", "x".repeat(101))), 413, "BAD_MESSAGE");
    assertError(http.post("/mpub", "a"), 400, "MISSING_ARG_TOPIC");
    assertError(http.post("/mpub?topic=a%20b", "a"), 400, "INVALID_TOPIC");
    assertEquals(0, topicStats(topic).path("message_count").asInt(), "no rejected batch published anything");
    // As nsqd: a text body of empty lines is answered OK and publishes nothing.
    assertEquals("OK", http.post("/mpub?topic=" + topic, "\n\n").body());
    assertEquals(0, topicStats(topic).path("message_count").asInt());
  }

  @Test
  void topicAndChannelAdmin() throws Exception {
    String topic = unique("admin");
    assertError(http.post("/channel/create?topic=" + topic + "&channel=c", ""), 404, "TOPIC_NOT_FOUND");
    assertEquals(200, http.post("/topic/create?topic=" + topic, "").status());
    assertEquals(200, http.post("/topic/create?topic=" + topic, "").status(), "create is idempotent");
    assertEquals(200, http.post("/channel/create?topic=" + topic + "&channel=c", "").status());
    for (String op : new String[] {"pause", "unpause", "empty", "delete"}) {
      assertError(http.post("/channel/" + op + "?topic=" + topic + "&channel=nope", ""), 404, "CHANNEL_NOT_FOUND");
      assertError(http.post("/channel/" + op + "?topic=missing-" + topic + "&channel=c", ""), 404, "TOPIC_NOT_FOUND");
      assertError(http.post("/topic/" + op + "?topic=missing-" + topic, ""), 404, "TOPIC_NOT_FOUND");
    }
    assertEquals(200, http.post("/channel/pause?topic=" + topic + "&channel=c", "").status());
    assertTrue(http.channelStats(topic, "c").path("paused").asBoolean());
    assertEquals(200, http.post("/channel/unpause?topic=" + topic + "&channel=c", "").status());
    assertEquals(false, http.channelStats(topic, "c").path("paused").asBoolean());
    assertEquals(200, http.post("/topic/pause?topic=" + topic, "").status());
    assertTrue(topicStats(topic).path("paused").asBoolean());
    assertEquals(200, http.post("/topic/unpause?topic=" + topic, "").status());
    assertEquals(200, http.post("/pub?topic=" + topic, "m").status());
    assertEquals(1, http.channelStats(topic, "c").path("depth").asInt());
    assertEquals(200, http.post("/channel/empty?topic=" + topic + "&channel=c", "").status());
    assertEquals(0, http.channelStats(topic, "c").path("depth").asInt());
    assertEquals(200, http.post("/channel/delete?topic=" + topic + "&channel=c", "").status());
    assertEquals(0, topicStats(topic).path("channels").size());
    assertEquals(200, http.post("/topic/empty?topic=" + topic, "").status());
    assertEquals(200, http.post("/topic/delete?topic=" + topic, "").status());
    assertEquals(0, http.stats(topic, null).path("topics").size());
    assertError(http.post("/topic/delete?topic=" + topic, ""), 404, "TOPIC_NOT_FOUND");
  }

  @Test
  void adminParameterErrors() throws Exception {
    assertError(http.post("/topic/create", ""), 400, "MISSING_ARG_TOPIC");
    assertError(http.post("/topic/create?topic=no!", ""), 400, "INVALID_TOPIC");
    assertError(http.post("/channel/create?topic=t", ""), 400, "MISSING_ARG_CHANNEL");
    assertError(http.post("/channel/create?topic=t&channel=no!", ""), 400, "INVALID_ARG_CHANNEL");
    assertError(http.post("/channel/create?channel=c", ""), 400, "MISSING_ARG_TOPIC");
  }

  @Test
  void topicEmptyDropsWhatWaitsForAFirstChannel() throws Exception {
    String topic = unique("tempty");
    assertEquals(200, http.post("/mpub?topic=" + topic, "a\nb").status());
    assertEquals(2, topicStats(topic).path("depth").asInt());
    assertEquals(200, http.post("/topic/empty?topic=" + topic, "").status());
    assertEquals(0, topicStats(topic).path("depth").asInt());
    assertEquals(200, http.post("/channel/create?topic=" + topic + "&channel=c", "").status());
    assertEquals(0, http.channelStats(topic, "c").path("depth").asInt(), "emptied messages do not reach the first channel");
  }

  @Test
  void wrongMethodAndUnknownPath() throws Exception {
    assertError(http.get("/pub?topic=t"), 405, "METHOD_NOT_ALLOWED");
    assertError(http.method("DELETE", "/stats"), 405, "METHOD_NOT_ALLOWED");
    assertError(http.get("/topic/create?topic=t"), 405, "METHOD_NOT_ALLOWED");
    assertError(http.get("/no/such/path"), 404, "NOT_FOUND");
    assertError(http.post("/topic/frobnicate?topic=t", ""), 404, "NOT_FOUND");
  }

  @Test
  void statsJsonHasNsqdsShapeAndFilters() throws Exception {
    String topic = unique("shape");
    assertEquals(200, http.post("/topic/create?topic=" + topic, "").status());
    assertEquals(200, http.post("/channel/create?topic=" + topic + "&channel=one", "").status());
    assertEquals(200, http.post("/channel/create?topic=" + topic + "&channel=two", "").status());
    JsonNode root = http.get("/stats?format=json").json();
    for (String f : new String[] {"version", "health", "start_time", "topics"}) assertTrue(root.has(f), f);
    JsonNode t = topicStats(topic);
    for (String f : new String[] {"topic_name", "paused", "depth", "message_count", "message_bytes", "channels"}) assertTrue(t.has(f), f);
    JsonNode c = t.path("channels").get(0);
    for (String f : new String[] {"channel_name", "paused", "depth", "in_flight_count", "deferred_count", "message_count",
        "requeue_count", "timeout_count", "client_count", "clients"}) {
      assertTrue(c.has(f), f);
    }
    assertEquals(1, http.stats(topic, "two").path("topics").get(0).path("channels").size());
    String text = http.get("/stats?topic=" + topic).body();
    assertTrue(text.contains(topic) && text.contains("one") && text.contains("two"), text);
    assertTrue(http.get("/stats?format=xml&topic=" + topic).body().contains(topic), "any format but json is text, as nsqd");
  }

  @Test
  void deferredPublishWaitsForItsTime() throws Exception {
    String topic = unique("defer");
    assertEquals(200, http.post("/topic/create?topic=" + topic, "").status());
    assertEquals(200, http.post("/channel/create?topic=" + topic + "&channel=c", "").status());
    assertEquals(200, http.post("/pub?topic=" + topic + "&defer=5000", "later").status());
    Await.until(java.time.Duration.ofSeconds(10), "message deferred",
        () -> http.channelStats(topic, "c").path("deferred_count").asInt() == 1);
    assertEquals(0, http.channelStats(topic, "c").path("depth").asInt());
    Await.until(java.time.Duration.ofSeconds(15), "deferred message becomes ready",
        () -> http.channelStats(topic, "c").path("depth").asInt() == 1
            && http.channelStats(topic, "c").path("deferred_count").asInt() == 0);
  }
}
