package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * After a SIGKILL and a restart, with no client touching anything, /stats and /metrics show every
 * topic's and channel's depth, in-flight and deferred counts: a backlog is visible to alerting.
 */
class VisibilityTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir
  Path data;

  @Test
  void depthsAreRightAfterASigkillRestartWithNoClient() throws Exception {
    NodeProcess node = NodeProcess.start(data.resolve("node"));
    try {
      HttpClientHelper http = node.http();
      http.createChannel("orders", "billing");
      StringBuilder body = new StringBuilder();
      for (int i = 0; i < 500; i++) body.append("order-").append(i).append('\n');
      assertEquals(200, http.post("/mpub?topic=orders", body.toString()).status());
      assertEquals(200, http.post("/pub?topic=orders&defer=3600000", "later").status());
      // No channel: the topic keeps them for its first one.
      StringBuilder lonely = new StringBuilder();
      for (int i = 0; i < 200; i++) lonely.append("l-").append(i).append('\n');
      assertEquals(200, http.post("/mpub?topic=lonely", lonely.toString()).status());
      Await.until(WAIT, "depths before the kill", () -> http.channelStats("orders", "billing").path("depth").asInt() == 500);

      node.kill();
      node.launch();

      // Only /stats and /metrics are asked, which start nothing themselves.
      Await.until(WAIT, "depths after the restart", () -> {
        JsonNode billing = http.channelStats("orders", "billing");
        JsonNode topic = http.stats("lonely", null).path("topics").path(0);
        return billing != null && billing.path("depth").asInt() == 500 && billing.path("deferred_count").asInt() == 1
            && billing.path("in_flight_count").asInt(-1) == 0 && topic.path("depth").asInt() == 200;
      });
      JsonNode billing = http.channelStats("orders", "billing");
      assertTrue(billing.path("state").asText().equals("running"), billing.toString());
      String metrics = http.get("/metrics").body();
      assertTrue(metrics.contains("herald_channel_depth{node=\"" + node.httpAddress() + "\",topic=\"orders\",channel=\"billing\"} 500"),
          metrics);
      assertTrue(metrics.contains("herald_channel_deferred{node=\"" + node.httpAddress() + "\",topic=\"orders\",channel=\"billing\"} 1"),
          metrics);
      assertTrue(metrics.contains("herald_topic_depth{node=\"" + node.httpAddress() + "\",topic=\"lonely\"} 200"), metrics);
    } finally {
      node.close();
    }
  }
}
