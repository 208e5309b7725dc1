package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Replay on a real node and its LevelDB journal: /channel/rewind to a time, a message id, earliest
 * and latest delivers again what the topic kept from there, attempts from 1; a rewind survives
 * SIGKILL; from= places a new channel. Each check publishes a marker after the rewind and reads
 * up to it, so "only these came again" is checked without waiting for nothing.
 */
class ReplayTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir
  Path data;

  /** Bodies up to and including {@code marker}, FINing each; attempts must all be 1. */
  private static List<String> readUpTo(WsConsumer c, String marker) throws Exception {
    List<String> bodies = new ArrayList<>();
    while (true) {
      JsonNode m = c.await(f -> f.type().equals("message"), WAIT).json();
      assertEquals(1, m.path("attempts").asInt(), "a replayed message starts its attempts again: " + m);
      c.send("FIN " + m.path("id").asText());
      bodies.add(m.path("body").asText());
      if (m.path("body").asText().equals(marker)) return bodies;
    }
  }

  private static void rewind(HttpClientHelper http, String to) throws Exception {
    assertEquals(200, http.post("/channel/rewind?topic=orders&channel=c&to=" + to, "").status(), to);
  }

  @Test
  void rewindByTimePositionEarliestAndLatestAndAcrossSigkill() throws Exception {
    try (NodeProcess node = NodeProcess.start(data.resolve("node"), "--retention-time", "1h")) {
      HttpClientHelper http = node.http();
      http.createChannel("orders", "c");
      assertEquals(200, http.post("/mpub?topic=orders", "m1\nm2\nm3").status());
      long between = System.currentTimeMillis();
      // The next publish must carry a later millisecond than "between" (same clock, this machine).
      Await.until(WAIT, "the clock to move on", () -> System.currentTimeMillis() > between);
      assertEquals(200, http.post("/mpub?topic=orders", "m4\nm5\nm6").status());

      try (WsConsumer c = WsConsumer.subscribe(node, "topic=orders&channel=c")) {
        c.send("RDY 10");
        assertEquals(List.of("m1", "m2", "m3", "m4", "m5", "m6"), readUpTo(c, "m6"));

        rewind(http, Long.toString(between));
        assertEquals(200, http.post("/pub?topic=orders", "x1").status());
        assertEquals(List.of("m4", "m5", "m6", "x1"), readUpTo(c, "x1"));

        rewind(http, "earliest");
        assertEquals(200, http.post("/pub?topic=orders", "x2").status());
        assertEquals(List.of("m1", "m2", "m3", "m4", "m5", "m6", "x1", "x2"), readUpTo(c, "x2"));

        // By position: the id of m5 (offset 4).
        rewind(http, "0000000000000004");
        assertEquals(200, http.post("/pub?topic=orders", "x3").status());
        assertEquals(List.of("m5", "m6", "x1", "x2", "x3"), readUpTo(c, "x3"));

        rewind(http, "latest");
        assertEquals(200, http.post("/pub?topic=orders", "x4").status());
        assertEquals(List.of("x4"), readUpTo(c, "x4"));

        JsonNode ch = http.channelStats("orders", "c");
        assertEquals(4, ch.path("rewind_count").asInt(), ch.toString());
      }

      // A rewind answered 200 is written: after SIGKILL the channel delivers from there again.
      rewind(http, "0000000000000007"); // x2
      node.kill();
      node.launch();
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=orders&channel=c")) {
        c.send("RDY 10");
        assertEquals(200, http.post("/pub?topic=orders", "x5").status());
        assertEquals(List.of("x2", "x3", "x4", "x5"), readUpTo(c, "x5"));
      }

      // from= places a new channel; a channel that exists stays where it is.
      assertEquals(200, http.post("/channel/create?topic=orders&channel=replica&from=earliest", "").status());
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=orders&channel=replica&from=latest")) {
        c.send("RDY 20");
        assertEquals(List.of("m1", "m2", "m3", "m4", "m5", "m6", "x1", "x2", "x3", "x4", "x5"), readUpTo(c, "x5"));
      }
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=orders&channel=late&from=" + between)) {
        c.send("RDY 20");
        assertEquals(200, http.post("/pub?topic=orders", "x6").status());
        assertEquals(List.of("m4", "m5", "m6", "x1", "x2", "x3", "x4", "x5", "x6"), readUpTo(c, "x6"));
      }

      HttpApiTest.assertError(http.post("/channel/rewind?topic=orders&channel=c&to=yesterday", ""), 400, "INVALID_TO");
      HttpApiTest.assertError(http.post("/channel/rewind?topic=orders&channel=c", ""), 400, "MISSING_ARG_TO");
      HttpApiTest.assertError(http.post("/channel/rewind?topic=orders&channel=nope&to=earliest", ""), 404, "CHANNEL_NOT_FOUND");
      HttpApiTest.assertError(http.post("/channel/create?topic=orders&channel=d&from=0000000000000004", ""), 400, "INVALID_FROM");
    }
  }
}
