package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP answers of nsqd v1.3.0 (nsqd/http.go, internal/http_api) and nsqlookupd v1.3.0
 * (nsqlookupd/http.go), case by case, against a real node. Each expected answer is what nsqd's
 * source defines and what a real nsqd v1.3.0 answered to the same request (docs/compat.md).
 */
class NsqdCompatTest extends SharedNode {
  private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String EMPTY = "";

  @BeforeAll
  static void start() throws Exception {
    startNode("--max-msg-size", "100", "--max-body-size", "1000", "--max-req-timeout", "10s");
  }

  record Answer(int status, String body, String nsqContentType) {
    JsonNode json() throws Exception {
      return JSON.readTree(body);
    }
  }

  static Answer send(String method, String path, byte[] body) throws Exception {
    HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(node.baseUrl() + path))
        .method(method, HttpRequest.BodyPublishers.ofByteArray(body)).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString());
    return new Answer(r.statusCode(), r.body(), r.headers().firstValue("X-NSQ-Content-Type").orElse(null));
  }

  static Answer send(String method, String path, String body) throws Exception {
    return send(method, path, body.getBytes(StandardCharsets.UTF_8));
  }

  static String error(String code) {
    return "{\"message\":\"" + code + "\"}";
  }

  /** One request and nsqd's answer to it: status and exact body. */
  record Case(String method, String path, byte[] body, int status, String expected) {
    Case(String method, String path, String body, int status, String expected) {
      this(method, path, body.getBytes(StandardCharsets.UTF_8), status, expected);
    }
  }

  static void check(List<Case> cases) throws Exception {
    List<String> wrong = new ArrayList<>();
    for (Case c : cases) {
      Answer a = send(c.method(), c.path(), c.body());
      if (a.status() != c.status() || !a.body().equals(c.expected())) {
        wrong.add(c.method() + " " + c.path() + ": expected " + c.status() + " " + c.expected() + ", got " + a.status() + " " + a.body());
      }
      if (!"nsq; version=1.0".equals(a.nsqContentType())) wrong.add(c.method() + " " + c.path() + ": X-NSQ-Content-Type " + a.nsqContentType());
    }
    assertTrue(wrong.isEmpty(), String.join("\n", wrong));
  }

  static byte[] binary(int count, Object... sizesAndBodies) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(ByteBuffer.allocate(4).putInt(count).array());
    for (Object o : sizesAndBodies) {
      if (o instanceof Integer size) out.writeBytes(ByteBuffer.allocate(4).putInt(size).array());
      else out.writeBytes(((String) o).getBytes(StandardCharsets.UTF_8));
    }
    return out.toByteArray();
  }

  @Test
  void publishAnswersAsNsqd() throws Exception {
    String t = unique("pubcompat");
    check(List.of(
        // doPUB reads the body first, then the topic, then defer.
        new Case("POST", "/pub", "x", 400, error("MISSING_ARG_TOPIC")),
        new Case("POST", "/pub?topic=", "x", 400, error("INVALID_TOPIC")),
        new Case("POST", "/pub?topic=", "", 400, error("MSG_EMPTY")),
        new Case("POST", "/pub?topic=bad*", "", 400, error("MSG_EMPTY")),
        new Case("POST", "/pub?topic=bad*", "x".repeat(101), 413, error("MSG_TOO_BIG")),
        new Case("POST", "/pub?topic=bad*", "x", 400, error("INVALID_TOPIC")),
        new Case("POST", "/pub?topic=" + t + "&defer=abc", "x", 400, error("INVALID_DEFER")),
        new Case("POST", "/pub?topic=" + t + "&defer=-1", "x", 400, error("INVALID_DEFER")),
        new Case("POST", "/pub?topic=" + t, "x", 200, "OK"),
        // doMPUB checks a declared length, then the topic, then the body; binary framing errors are 413.
        new Case("POST", "/mpub", "a", 400, error("MISSING_ARG_TOPIC")),
        new Case("POST", "/mpub?topic=", "a", 400, error("INVALID_TOPIC")),
        new Case("POST", "/mpub?topic=" + t, "\n\n", 200, "OK"),
        new Case("POST", "/mpub?topic=" + t, "ok\n" + "x".repeat(101), 413, error("MSG_TOO_BIG")),
        new Case("POST", "/mpub?topic=" + t, "y\n".repeat(600), 413, error("BODY_TOO_BIG")),
        new Case("POST", "/mpub", "y\n".repeat(600), 413, error("BODY_TOO_BIG")),
        new Case("POST", "/mpub?topic=" + t + "&binary=true", new byte[0], 413, error("BAD_BODY")),
        new Case("POST", "/mpub?topic=" + t + "&binary=true", binary(0), 413, error("BAD_BODY")),
        new Case("POST", "/mpub?topic=" + t + "&binary=true", binary(-1), 413, error("BAD_BODY")),
        new Case("POST", "/mpub?topic=" + t + "&binary=true", binary(200, 1, "a"), 413, error("BAD_BODY")),
        new Case("POST", "/mpub?topic=" + t + "&binary=true", binary(2, 1, "a"), 413, error("BAD_MESSAGE")),
        new Case("POST", "/mpub?topic=" + t + "&binary=true", binary(1, 5, "ab"), 413, error("BAD_MESSAGE")),
        new Case("POST", "/mpub?topic=" + t + "&binary=true", binary(1, 0), 413, error("BAD_MESSAGE")),
        new Case("POST", "/mpub?topic=" + t + "&binary=true", binary(1, 101, "x".repeat(101)), 413, error("BAD_MESSAGE")),
        // Bytes after the counted messages are ignored; a binary value other than false/0 is binary.
        new Case("POST", "/mpub?topic=" + t + "&binary=true", binary(1, 1, "abc"), 200, "OK"),
        new Case("POST", "/mpub?topic=" + t + "&binary=yes", binary(1, 1, "b"), 200, "OK"),
        new Case("POST", "/mpub?topic=" + t + "&binary=0", "c\nd", 200, "OK")));
    JsonNode topic = send("GET", "/stats?format=json&topic=" + t, "").json().path("topics").get(0);
    assertEquals(5, topic.path("message_count").asInt(), "x, a, b, c and d: nothing of a refused request");
  }

  @Test
  void adminAnswersAsNsqd() throws Exception {
    String t = unique("admincompat");
    String missing = unique("missing");
    check(List.of(
        new Case("POST", "/topic/create", "", 400, error("MISSING_ARG_TOPIC")),
        new Case("POST", "/topic/create?topic=", "", 400, error("INVALID_TOPIC")),
        new Case("POST", "/topic/create?topic=no!", "", 400, error("INVALID_TOPIC")),
        new Case("POST", "/topic/create?topic=" + t, "", 200, EMPTY),
        // GetTopicChannelArgs names the arguments INVALID_ARG_*.
        new Case("POST", "/channel/create?channel=c", "", 400, error("MISSING_ARG_TOPIC")),
        new Case("POST", "/channel/create?topic=no!&channel=c", "", 400, error("INVALID_ARG_TOPIC")),
        new Case("POST", "/channel/create?topic=" + t, "", 400, error("MISSING_ARG_CHANNEL")),
        new Case("POST", "/channel/create?topic=" + t + "&channel=", "", 400, error("INVALID_ARG_CHANNEL")),
        new Case("POST", "/channel/create?topic=" + t + "&channel=no!", "", 400, error("INVALID_ARG_CHANNEL")),
        new Case("POST", "/channel/create?topic=" + missing + "&channel=c", "", 404, error("TOPIC_NOT_FOUND")),
        new Case("POST", "/channel/create?topic=" + t + "&channel=c", "", 200, EMPTY),
        new Case("POST", "/channel/pause?topic=" + t + "&channel=nope", "", 404, error("CHANNEL_NOT_FOUND")),
        new Case("POST", "/channel/pause?topic=" + t + "&channel=c", "", 200, EMPTY),
        new Case("POST", "/channel/unpause?topic=" + t + "&channel=c", "", 200, EMPTY),
        new Case("POST", "/channel/empty?topic=" + t + "&channel=c", "", 200, EMPTY),
        // Pause and delete look the topic up without checking its name.
        new Case("POST", "/topic/pause?topic=", "", 404, error("TOPIC_NOT_FOUND")),
        new Case("POST", "/topic/pause?topic=" + missing, "", 404, error("TOPIC_NOT_FOUND")),
        new Case("POST", "/topic/pause?topic=" + t, "", 200, EMPTY),
        new Case("POST", "/topic/unpause?topic=" + t, "", 200, EMPTY),
        new Case("POST", "/topic/empty?topic=no!", "", 400, error("INVALID_TOPIC")),
        new Case("POST", "/topic/empty?topic=" + missing, "", 404, error("TOPIC_NOT_FOUND")),
        new Case("POST", "/topic/empty?topic=" + t, "", 200, EMPTY),
        new Case("POST", "/topic/delete", "", 400, error("MISSING_ARG_TOPIC")),
        new Case("POST", "/topic/delete?topic=no!", "", 404, error("TOPIC_NOT_FOUND")),
        new Case("POST", "/channel/delete?topic=" + t + "&channel=c", "", 200, EMPTY),
        new Case("POST", "/channel/delete?topic=" + t + "&channel=c", "", 404, error("CHANNEL_NOT_FOUND")),
        new Case("POST", "/topic/delete?topic=" + t, "", 200, EMPTY),
        new Case("POST", "/topic/delete?topic=" + t, "", 404, error("TOPIC_NOT_FOUND")),
        // The router's own answers.
        new Case("POST", "/topic/frob?topic=" + t, "", 404, error("NOT_FOUND")),
        new Case("GET", "/pub?topic=" + t, "", 405, error("METHOD_NOT_ALLOWED")),
        new Case("GET", "/no/such", "", 404, error("NOT_FOUND")),
        // nsqd's /config: log_level as its number; nsqlookupd's /topic/tombstone.
        new Case("GET", "/config/nope", "", 400, error("INVALID_OPTION")),
        new Case("PUT", "/config/log_level", "bogus", 400, error("INVALID_VALUE")),
        new Case("PUT", "/config/log_level", "", 413, error("INVALID_VALUE")),
        new Case("PUT", "/config/log_level", "warn", 200, "3"),
        new Case("GET", "/config/log_level", "", 200, "3"),
        new Case("PUT", "/config/log_level", "INFO", 200, "2"),
        new Case("POST", "/topic/tombstone", "", 400, error("MISSING_ARG_TOPIC")),
        new Case("POST", "/topic/tombstone?topic=" + t, "", 400, error("MISSING_ARG_NODE")),
        new Case("POST", "/topic/tombstone?topic=" + t + "&node=h:4151", "", 200, EMPTY)));
  }

  @Test
  void infoHasNsqdsFields() throws Exception {
    Answer a = send("GET", "/info", "");
    assertEquals("nsq; version=1.0", a.nsqContentType());
    JsonNode info = a.json();
    for (String f : new String[] {"version", "broadcast_address", "hostname", "http_port", "tcp_port", "start_time"}) {
      assertTrue(info.has(f), f + " in " + info);
    }
    assertEquals(URI.create(node.baseUrl()).getPort(), info.path("http_port").asInt());
    assertEquals(node.tcpPort(), info.path("tcp_port").asInt(), "the NSQ TCP listener's bound port");
    assertFalse(info.path("broadcast_address").asText().isEmpty());
  }

  @Test
  void statsHaveNsqdsShapeAndNulls() throws Exception {
    String t = unique("statscompat");
    http.createChannel(t, "c");
    assertEquals(200, http.post("/pub?topic=" + t, "m").status());
    JsonNode root = send("GET", "/stats?format=json&topic=" + t, "").json();
    assertTrue(root.has("producers") && root.path("producers").isNull(), "no TCP publisher: null, as nsqd");
    for (String f : new String[] {"heap_objects", "heap_idle_bytes", "heap_in_use_bytes", "heap_released_bytes",
        "gc_pause_usec_100", "gc_pause_usec_99", "gc_pause_usec_95", "next_gc_bytes", "gc_total_runs"}) {
      assertTrue(root.path("memory").has(f), "memory." + f);
    }
    assertTrue(root.path("memory").path("heap_in_use_bytes").asLong() > 0);
    JsonNode topic = root.path("topics").get(0);
    for (String f : new String[] {"topic_name", "channels", "depth", "backend_depth", "message_count", "message_bytes", "paused"}) {
      assertTrue(topic.has(f), "topic." + f);
    }
    assertTrue(topic.path("e2e_processing_latency").has("count"), "topic-level e2e_processing_latency, which nsqadmin reads");
    assertTrue(topic.path("e2e_processing_latency").path("percentiles").isArray());
    JsonNode channel = topic.path("channels").get(0);
    for (String f : new String[] {"channel_name", "depth", "backend_depth", "in_flight_count", "deferred_count", "message_count",
        "requeue_count", "timeout_count", "client_count", "clients", "paused", "e2e_processing_latency"}) {
      assertTrue(channel.has(f), "channel." + f);
    }
    assertEquals(1, channel.path("depth").asInt());
    assertTrue(channel.path("clients").isArray() && channel.path("clients").isEmpty(), "no clients: [], as nsqd");

    // As nsqd: an unknown topic is null topics, a topic without the channel asked for is left out,
    // include_clients=false is null clients, include_mem=false leaves memory out.
    assertTrue(send("GET", "/stats?format=json&topic=" + unique("none"), "").json().path("topics").isNull());
    JsonNode noChannel = send("GET", "/stats?format=json&topic=" + t + "&channel=nope", "").json();
    assertTrue(noChannel.path("topics").isArray() && noChannel.path("topics").isEmpty(), noChannel.toString());
    JsonNode lean = send("GET", "/stats?format=json&topic=" + t + "&include_clients=false&include_mem=0", "").json();
    assertTrue(lean.path("topics").get(0).path("channels").get(0).path("clients").isNull());
    assertFalse(lean.has("memory"));
  }

  @Test
  void lookupdEndpointsAsNsqlookupd() throws Exception {
    String t = unique("lookupcompat");
    http.createChannel(t, "c");
    // The registry hears of a topic from the topic itself, just after it answers.
    Await.until(Duration.ofSeconds(10), "topic and channel in /lookup",
        () -> send("GET", "/lookup?topic=" + t, "").status() == 200
            && send("GET", "/lookup?topic=" + t, "").json().path("channels").toString().equals("[\"c\"]"));
    JsonNode lookup = send("GET", "/lookup?topic=" + t, "").json();
    assertEquals(1, lookup.path("producers").size());
    JsonNode p = lookup.path("producers").get(0);
    for (String f : new String[] {"remote_address", "hostname", "broadcast_address", "tcp_port", "http_port", "version"}) {
      assertTrue(p.has(f), "producer." + f);
    }
    assertEquals(URI.create(node.baseUrl()).getPort(), p.path("http_port").asInt());
    assertEquals(node.tcpPort(), p.path("tcp_port").asInt(), "where go-nsq's lookupd discovery connects");

    JsonNode nodes = send("GET", "/nodes", "").json();
    assertEquals(1, nodes.path("producers").size());
    JsonNode n = nodes.path("producers").get(0);
    assertEquals(n.path("topics").size(), n.path("tombstones").size());
    assertTrue(n.path("topics").toString().contains("\"" + t + "\""), n.toString());
    assertTrue(send("GET", "/topics", "").json().path("topics").toString().contains("\"" + t + "\""));
    assertTrue(send("GET", "/cluster/nodes", "").json().path("nodes").get(0).has("shards"), "Herald's own view moved here");

    check(List.of(
        new Case("GET", "/lookup", "", 400, error("MISSING_ARG_TOPIC")),
        new Case("GET", "/lookup?topic=" + unique("none"), "", 404, error("TOPIC_NOT_FOUND")),
        new Case("GET", "/channels", "", 400, error("MISSING_ARG_TOPIC")),
        new Case("GET", "/channels?topic=" + unique("none"), "", 200, "{\"channels\":[]}"),
        new Case("GET", "/channels?topic=" + t, "", 200, "{\"channels\":[\"c\"]}")));
  }

  @Test
  void hostHeaderWithoutAHostNameIsAnswered() throws Exception {
    // nsqadmin sends "Host: :PORT" when an nsqd's broadcast address is empty; nsqd answers it.
    int port = URI.create(node.baseUrl()).getPort();
    try (Socket s = new Socket("127.0.0.1", port)) {
      OutputStream out = s.getOutputStream();
      out.write(("GET /info HTTP/1.1\r\nHost: :" + port + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(response.startsWith("HTTP/1.1 200 OK"), response);
      assertTrue(response.contains("\"broadcast_address\""), response);
    }
  }
}
