package herald.e2e;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static herald.e2e.AuthTest.call;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --auth-http-address against a real HTTP server in the test that answers as nsqauthd does
 * (GET /auth?remote_ip=&tls=&secret=&common_name=, a JSON answer with a ttl, or 403 for a secret it
 * does not know).
 */
class AuthServerTest extends SharedNode {
  private static HttpServer authd;
  private static final Map<String, AtomicInteger> asked = new ConcurrentHashMap<>();
  private static final List<Map<String, String>> queries = new CopyOnWriteArrayList<>();
  /** Secret -> the answer it gets; absent: 403. */
  private static final Map<String, String> answers = new ConcurrentHashMap<>();

  @BeforeAll
  static void start() throws Exception {
    authd = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    authd.createContext("/auth", exchange -> {
      Map<String, String> q = new HashMap<>();
      for (String kv : exchange.getRequestURI().getRawQuery().split("&")) {
        String[] p = kv.split("=", 2);
        q.put(p[0], p.length > 1 ? URLDecoder.decode(p[1], StandardCharsets.UTF_8) : "");
      }
      queries.add(q);
      String secret = q.getOrDefault("secret", "");
      asked.computeIfAbsent(secret, s -> new AtomicInteger()).incrementAndGet();
      if (secret.startsWith("huge")) {
        // 256 MB, streamed: read whole into a node's 512 MB heap, it ran out of memory. Declared,
        // or chunked (no size until the end).
        byte[] chunk = new byte[1 << 20];
        java.util.Arrays.fill(chunk, (byte) 'x');
        exchange.sendResponseHeaders(200, secret.equals("huge") ? 256L * chunk.length : 0);
        try (var out = exchange.getResponseBody()) {
          for (int i = 0; i < 256; i++) out.write(chunk);
        } catch (java.io.IOException closedByTheNode) {
          // the node stopped reading: that is the point
        }
        exchange.close();
        return;
      }
      String answer = answers.get(secret);
      byte[] body = (answer == null ? "{\"message\":\"NOT_AUTHORIZED\"}" : answer).getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(answer == null ? 403 : 200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    authd.start();
    answers.put("long-lived", answer(3600, "publish", "^authd-.*$"));
    answers.put("short-lived", answer(1, "publish", "^authd-.*$"));
    startNode("--auth-http-address", "127.0.0.1:" + authd.getAddress().getPort());
  }

  @AfterAll
  static void stopAuthd() {
    if (authd != null) authd.stop(0);
  }

  private static String answer(int ttl, String permission, String topic) {
    return "{\"ttl\":" + ttl + ",\"identity\":\"app\",\"identity_url\":\"https://id.example/app\","
        + "\"authorizations\":[{\"permissions\":[\"" + permission + "\"],\"topic\":\"" + topic + "\",\"channels\":[\".*\"]}]}";
  }

  @Test
  void asksAsNsqdDoesAndKeepsTheAnswerForItsTtl() throws Exception {
    String topic = unique("authd-orders");
    assertEquals(200, call("POST", "/pub?topic=" + topic, "long-lived").statusCode());
    Map<String, String> q = queries.stream().filter(m -> "long-lived".equals(m.get("secret"))).findFirst().orElseThrow();
    assertEquals("127.0.0.1", q.get("remote_ip"));
    assertEquals("false", q.get("tls"));
    assertEquals("", q.get("common_name"));
    // Within the hour's ttl the node does not ask again, whatever it is asked to do.
    for (int i = 0; i < 5; i++) assertEquals(200, call("POST", "/pub?topic=" + topic, "long-lived").statusCode());
    assertEquals(403, call("POST", "/pub?topic=other", "long-lived").statusCode());
    assertEquals(403, call("GET", "/stats", "long-lived").statusCode());
    assertEquals(1, asked.get("long-lived").get());
  }

  @Test
  void anExpiredAnswerIsAskedForAgainAndANewAnswerApplies() throws Exception {
    String topic = unique("authd-events");
    assertEquals(200, call("POST", "/pub?topic=" + topic, "short-lived").statusCode());
    // The server now grants only stats; once the 1 s ttl is over the node asks again and obeys.
    answers.put("short-lived", answer(1, "stats", ".*"));
    Await.until(Duration.ofSeconds(20), "the node asked again after the ttl",
        () -> call("POST", "/pub?topic=" + topic, "short-lived").statusCode() == 403);
    assertTrue(asked.get("short-lived").get() >= 2);
    assertEquals(200, call("GET", "/stats", "short-lived").statusCode());
  }

  /**
   * An answer is read into the node's heap: a server (or anyone between, on plain HTTP) answering
   * 256 MB made the node run out of memory (OutOfMemoryError in its log, where any other thread's
   * allocation could have failed too). Refused by its size instead, before it is read.
   */
  @Test
  void aHugeAnswerIsRefusedWithoutReadingIt() throws Exception {
    var refused = call("POST", "/pub?topic=authd-x", "huge");
    assertEquals(401, refused.statusCode());
    assertEquals("AUTH_FAILED", AuthTest.code(refused));
    assertTrue(!node.log().contains("OutOfMemoryError"), node.logTail());
    assertTrue(node.log().contains("answer of 268435456 bytes, more than"), node.logTail());
    var chunked = call("POST", "/pub?topic=authd-x", "huge-chunked");
    assertEquals(401, chunked.statusCode());
    assertTrue(node.log().contains("answer of at least"), node.logTail());
    assertTrue(!node.log().contains("OutOfMemoryError"), node.logTail());
  }

  @Test
  void aSecretTheServerRefusesOrAnUnreachableServerIsAuthFailed() throws Exception {
    var refused = call("POST", "/pub?topic=authd-x", "unknown");
    assertEquals(401, refused.statusCode());
    assertEquals("AUTH_FAILED", AuthTest.code(refused));
    assertEquals(401, call("POST", "/pub?topic=authd-x", null).statusCode());
    // A refusal is not kept: once the server knows the secret it works.
    answers.put("unknown", answer(60, "publish", "^authd-x$"));
    assertEquals(200, call("POST", "/pub?topic=authd-x", "unknown").statusCode());
    // An answer nsqd would reject (ttl 0) refuses too.
    answers.put("bad-ttl", answer(0, "publish", ".*"));
    assertEquals(401, call("POST", "/pub?topic=authd-x", "bad-ttl").statusCode());
  }
}
