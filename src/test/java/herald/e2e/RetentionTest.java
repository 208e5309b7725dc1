package herald.e2e;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Retention against a real node and its LevelDB journal: once every channel has FINed what the
 * topic's first writes held, the topic deletes them, and the node still recovers after SIGKILL with
 * nothing lost and nothing consumed delivered again.
 */
class RetentionTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir
  Path data;

  @Test
  void consumedEventsAreDeletedAndTheNodeStillRecovers() throws Exception {
    try (NodeProcess node = NodeProcess.start(data.resolve("node"))) {
      HttpClientHelper http = node.http();
      http.createChannel("kept", "c");
      String series = "herald_topic_journal_deleted_to{node=\"" + node.httpAddress() + "\",topic=\"kept\"}";

      try (WsConsumer c = WsConsumer.subscribe(node, "topic=kept&channel=c")) {
        c.send("RDY 200");
        // One message per request and one request at a time: one journal write each, 2,100 writes.
        // Snapshots at writes 1,000 and 2,000; deletions stop at the second-last, 1,000.
        for (int i = 0; i < 2100; i++) {
          assertEquals(200, http.post("/pub?topic=kept", "m" + i).status());
          c.send("FIN " + c.messages(1, WAIT).get(0).json().path("id").asText());
        }
        Await.until(WAIT, "the first writes deleted", () -> {
          Double deletedTo = MetricsTest.samples(http.get("/metrics").body()).get(series);
          return deletedTo != null && deletedTo >= 500;
        });
        Map<String, Double> m = MetricsTest.samples(http.get("/metrics").body());
        assertTrue(m.get(series) <= 1000, "never past the snapshot: " + m.get(series));
      }

      node.kill();
      node.launch();
      assertEquals(200, http.post("/pub?topic=kept", "after").status());
      assertEquals(2101, http.stats("kept", null).path("topics").get(0).path("message_count").asInt(),
          "the topic's count survives the deletion of its first events");
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=kept&channel=c")) {
        c.send("RDY 10");
        // FINs are written every 100 ms; the last ones before the kill may come again, nothing else.
        String body;
        int again = 0;
        while (!(body = c.messages(1, WAIT).get(0).json().path("body").asText()).equals("after")) {
          assertTrue(body.matches("m20\\d\\d"), "only the last messages may come again: " + body);
          again++;
        }
        assertTrue(again < 100, again + " delivered again");
      }
    }
  }
}
