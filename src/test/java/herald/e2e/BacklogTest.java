package herald.e2e;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A backlog larger than --mem-queue-size: the channel stops holding bodies and reads them back from
 * the topic's journal as consumers drain it, before and after a SIGKILL.
 */
class BacklogTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir
  Path data;

  @Test
  void backlogBeyondTheMemoryQueueIsReadBackFromTheJournal() throws Exception {
    NodeProcess node = NodeProcess.start(data.resolve("node"), "--mem-queue-size", "20");
    try {
      HttpClientHelper http = node.http();
      http.createChannel("big", "c");
      int total = 0;
      for (int batch = 0; batch < 20; batch++) {
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < 100; i++) body.append("m-").append(total++).append('\n');
        assertEquals(200, http.post("/mpub?topic=big", body.toString()).status());
      }
      int published = total;
      Await.until(WAIT, "depth counts the whole backlog",
          () -> http.channelStats("big", "c").path("depth").asInt() == published);

      Set<String> got = new HashSet<>();
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=big&channel=c")) {
        c.send("RDY 7");
        while (got.size() < 900) {
          WsConsumer.Frame f = c.messages(1, WAIT).get(0);
          assertTrue(got.add(f.json().path("body").asText()), "no duplicate before the kill");
          c.send("FIN " + f.json().path("id").asText());
        }
        Await.until(WAIT, "in flight drained to 7 or fewer", () -> http.channelStats("big", "c").path("in_flight_count").asInt() <= 7);
      }
      node.killOnceWritten(System.nanoTime(), "the last FIN");
      node.launch();

      int redelivered = 0;
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=big&channel=c")) {
        c.send("RDY 7");
        while (got.size() < published) {
          WsConsumer.Frame f = c.messages(1, WAIT).get(0);
          if (!got.add(f.json().path("body").asText())) redelivered++;
          c.send("FIN " + f.json().path("id").asText());
        }
        Await.until(WAIT, "channel empty", () -> http.channelStats("big", "c").path("depth").asInt() == 0
            && http.channelStats("big", "c").path("in_flight_count").asInt() == 0);
      }
      for (int i = 0; i < published; i++) assertTrue(got.contains("m-" + i), "m-" + i + " delivered");
      // Only what was in flight at the kill (closed consumer returned it, at most RDY 7) may come twice.
      assertTrue(redelivered <= 7, "redelivered " + redelivered);
    } finally {
      node.close();
    }
  }
}
