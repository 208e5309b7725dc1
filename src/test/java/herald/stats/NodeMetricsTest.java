package herald.stats;

import herald.broker.Channel;
import herald.broker.Topic;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The topic and channel series: only what this node hosts, with latency as a summary in seconds. */
class NodeMetricsTest {
  private static final String A = "10.0.0.1:4151";
  private static final String B = "10.0.0.2:4151";

  private static Channel.ChannelStats channel(String topic, String name, String node, Channel.E2eLatency e2e) {
    return new Channel.ChannelStats(topic, name, true, false, 7, 2, 1, 30, 4, 3, List.of(), node, e2e);
  }

  @Test
  void onlyTheSeriesOfThisNodesTopicsAndChannels() {
    Channel.E2eLatency e2e = new Channel.E2eLatency(12, List.of(
        new Channel.Percentile(0.5, 3_000_000), new Channel.Percentile(0.95, 8_000_000),
        new Channel.Percentile(0.99, 9_000_000), new Channel.Percentile(0.999, 9_000_000),
        new Channel.Percentile(1.0, 1_250_000_000)));
    List<StatsCollector.TopicReport> reports = List.of(
        new StatsCollector.TopicReport(new Topic.TopicStats("orders", true, true, 0, 30, 300, List.of("billing"), A, 0),
            List.of(channel("orders", "billing", A, e2e)), true),
        new StatsCollector.TopicReport(new Topic.TopicStats("elsewhere", true, false, 5, 5, 50, List.of("c"), B, 0),
            List.of(channel("elsewhere", "c", B, null)), true));

    String text = NodeMetrics.format(A, reports);
    String c = "{node=\"" + A + "\",topic=\"orders\",channel=\"billing\"}";
    assertTrue(text.contains("herald_topic_paused{node=\"" + A + "\",topic=\"orders\"} 1\n"), text);
    assertTrue(text.contains("herald_topic_messages_total{node=\"" + A + "\",topic=\"orders\"} 30\n"), text);
    assertTrue(text.contains("herald_channel_depth" + c + " 7\n"), text);
    assertTrue(text.contains("herald_channel_in_flight" + c + " 2\n"), text);
    assertTrue(text.contains("herald_channel_deferred" + c + " 1\n"), text);
    assertTrue(text.contains("herald_channel_requeues_total" + c + " 4\n"), text);
    assertTrue(text.contains("herald_channel_timeouts_total" + c + " 3\n"), text);
    assertTrue(text.contains("herald_channel_e2e_processing_latency_seconds{node=\"" + A
        + "\",topic=\"orders\",channel=\"billing\",quantile=\"0.5\"} 0.003\n"), text);
    assertTrue(text.contains("herald_channel_e2e_processing_latency_seconds_count" + c + " 12\n"), text);
    assertTrue(text.contains("herald_channel_e2e_processing_latency_max_seconds" + c + " 1.25\n"), text);
    assertFalse(text.contains("quantile=\"1"), "the maximum is its own gauge, not a quantile: " + text);
    assertFalse(text.contains("elsewhere") || text.contains(B), "another node's topic is that node's to report: " + text);
    assertEquals(1, text.lines().filter(l -> l.equals("# TYPE herald_channel_depth gauge")).count(), text);
  }

  @Test
  void aChannelWithoutLatencyFromAnOlderNodeCountsZero() {
    String text = NodeMetrics.format(A, List.of(new StatsCollector.TopicReport(
        new Topic.TopicStats("t", true, false, 0, 0, 0, List.of("c"), A, 0), List.of(channel("t", "c", A, null)), true)));
    assertTrue(text.contains("herald_channel_e2e_processing_latency_seconds_count{node=\"" + A + "\",topic=\"t\",channel=\"c\"} 0\n"), text);
  }
}
