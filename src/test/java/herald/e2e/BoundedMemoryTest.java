package herald.e2e;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a client sends or asks about never decides how much memory the node uses. */
class BoundedMemoryTest extends SharedNode {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @BeforeAll
  static void start() throws Exception {
    startNode();
  }

  @Test
  void bodiesOverTheLimitGet413WithoutBeingRead() throws Exception {
    String topic = unique("big");
    // Default limits: max-msg-size 1 MiB, max-body-size 5 MiB.
    HttpClientHelper.Response pub = http.post("/pub?topic=" + topic, new byte[1024 * 1024 + 1]);
    assertEquals(413, pub.status(), pub.body());
    assertEquals("MSG_TOO_BIG", pub.code());
    // Past pekko-http's own 8 MiB strict limit, which used to turn this into a 503.
    HttpClientHelper.Response mpub = http.post("/mpub?topic=" + topic, new byte[9 * 1024 * 1024]);
    assertEquals(413, mpub.status(), mpub.body());
    assertEquals("BODY_TOO_BIG", mpub.code());

    // Chunked, no length given: refused once the limit is passed.
    HttpResponse<String> chunked = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create(node.baseUrl() + "/mpub?topic=" + topic))
            .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(new byte[6 * 1024 * 1024])))
            .timeout(WAIT).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(413, chunked.statusCode(), chunked.body());

    // A declared 100 GB body is answered before any of it is sent: nothing waits for it.
    try (Socket s = new Socket("127.0.0.1", java.net.URI.create(node.baseUrl()).getPort())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(("POST /mpub?topic=" + topic + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String status = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine();
      assertTrue(status.startsWith("HTTP/1.1 413 "), status);
    }
    assertEquals(0, topicCount(topic), "nothing was published");
  }

  @Test
  void anOversizedWebSocketFrameClosesOnlyItsOwnConnection() throws Exception {
    String topic = unique("frames");
    http.createChannel(topic, "c");
    try (WsConsumer good = WsConsumer.subscribe(node, "topic=" + topic + "&channel=c");
         WsConsumer bad = WsConsumer.subscribe(node, "topic=" + topic + "&channel=c")) {
      good.send("RDY 1");
      // 600 MB in 10 MB parts of one text frame: more than the node's whole heap (-Xmx512m).
      String part = "x".repeat(10 * 1024 * 1024);
      for (int i = 0; i < 60 && !bad.isClosed(); i++) {
        try {
          bad.sendPart(part, i == 59);
        } catch (Exception e) {
          break; // the server closed the socket under us: the error frame came first (checked below)
        }
      }
      WsConsumer.Frame error = bad.await(f -> f.type().equals("error"), WAIT);
      assertEquals("E_INVALID", error.json().path("code").asText(), error.json().toString());
      assertTrue(error.json().path("message").asText().contains("frame longer than"), error.json().toString());
      bad.closed().get(30, TimeUnit.SECONDS);

      // The node and the other consumer carry on.
      assertEquals(200, http.post("/pub?topic=" + topic, "still here").status());
      assertEquals("still here", good.messages(1, WAIT).get(0).json().path("body").asText());
    }
  }

  @Test
  void readOnlyRequestsForUnknownTopicsStartNoEntity() throws Exception {
    int before = DurabilityTest.hostedEntities(http);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<Integer>> answers = new ArrayList<>();
      for (int i = 0; i < 5000; i++) {
        String name = unique("nobody");
        String path = switch (i % 4) {
          case 0 -> "/lookup?topic=" + name;
          case 1 -> "/channels?topic=" + name;
          case 2 -> "/stats?format=json&topic=" + name;
          default -> "/stats?format=json&topic=" + name + "&channel=c";
        };
        answers.add(pool.submit(() -> http.get(path).status()));
      }
      for (int i = 0; i < answers.size(); i++) {
        // /lookup of an unknown topic is nsqlookupd's 404; its /channels is an empty list.
        int expected = i % 4 == 0 ? 404 : 200;
        assertEquals(expected, answers.get(i).get(60, TimeUnit.SECONDS), "answer " + i);
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(before, DurabilityTest.hostedEntities(http), "entities before and after 5,000 read-only requests");
  }

  private static int topicCount(String topic) throws Exception {
    return http.stats(topic, null).path("topics").size();
  }
}
