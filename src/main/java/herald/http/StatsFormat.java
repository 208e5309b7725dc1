package herald.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import herald.broker.Channel;
import herald.broker.Topic;
import herald.stats.StatsCollector.TopicReport;

import java.util.List;

/** /stats in nsqd's JSON shape, or as a table for people. */
public final class StatsFormat {
  private static final ObjectMapper JSON = new ObjectMapper();

  private StatsFormat() {}

  public static String json(String version, long startTime, List<TopicReport> reports) {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", version);
    root.put("health", "OK");
    root.put("start_time", startTime);
    ArrayNode topics = root.putArray("topics");
    for (TopicReport r : reports) {
      Topic.TopicStats t = r.topic();
      ObjectNode topic = topics.addObject();
      if (!r.running()) {
        notRunning(topic, t);
        continue;
      }
      topic.put("topic_name", t.name());
      topic.put("running", true);
      topic.put("node", t.node());
      topic.put("paused", t.paused());
      topic.put("depth", t.depth());
      topic.put("message_count", t.messageCount());
      topic.put("message_bytes", t.messageBytes());
      if (t.dedup() != null) {
        ObjectNode dedup = topic.putObject("dedup");
        dedup.put("window_ms", t.dedup().windowMs());
        dedup.put("ids", t.dedup().ids());
        dedup.put("duplicates", t.dedup().duplicates());
        dedup.put("forgotten_early", t.dedup().forgottenEarly());
      }
      ArrayNode channels = topic.putArray("channels");
      for (Channel.ChannelStats c : r.channels()) {
        ObjectNode channel = channels.addObject();
        channel.put("channel_name", c.name());
        channel.put("running", true);
        channel.put("node", c.node());
        channel.put("paused", c.paused());
        channel.put("depth", c.depth());
        channel.put("in_flight_count", c.inFlightCount());
        channel.put("deferred_count", c.deferredCount());
        channel.put("message_count", c.messageCount());
        channel.put("requeue_count", c.requeueCount());
        channel.put("timeout_count", c.timeoutCount());
        Channel.E2eLatency e2e = e2e(c);
        ObjectNode latency = channel.putObject("e2e_processing_latency");
        latency.put("count", e2e.count());
        ArrayNode percentiles = latency.putArray("percentiles");
        for (Channel.Percentile p : e2e.percentiles()) {
          percentiles.addObject().put("quantile", p.quantile()).put("value", p.value());
        }
        channel.put("client_count", c.clients().size());
        ArrayNode clients = channel.putArray("clients");
        for (Channel.ClientStats cl : c.clients()) {
          ObjectNode client = clients.addObject();
          client.put("client_id", cl.clientId());
          client.put("remote_address", cl.remoteAddress());
          client.put("ready_count", cl.readyCount());
          client.put("in_flight_count", cl.inFlightCount());
          client.put("message_count", cl.messageCount());
          client.put("finish_count", cl.finishCount());
          client.put("requeue_count", cl.requeueCount());
          client.put("timeout_count", cl.timeoutCount());
          client.put("connect_ts", cl.connectTs() / 1000);
        }
      }
    }
    return root.toString();
  }

  /**
   * A topic whose entity is not running, as the registry knows it: its name and its channels'
   * names. Its figures would need the entity started, so they are null rather than invented.
   */
  private static void notRunning(ObjectNode topic, Topic.TopicStats t) {
    topic.put("topic_name", t.name());
    topic.put("running", false);
    for (String field : new String[] {"node", "paused", "depth", "message_count", "message_bytes"}) topic.putNull(field);
    ArrayNode channels = topic.putArray("channels");
    for (String name : t.channels()) {
      ObjectNode channel = channels.addObject();
      channel.put("channel_name", name);
      channel.put("running", false);
    }
  }

  public static String text(String version, List<TopicReport> reports) {
    StringBuilder out = new StringBuilder("herald " + version + "\nhealth: OK\n");
    if (reports.isEmpty()) out.append("\n   NO_TOPICS\n");
    for (TopicReport r : reports) {
      Topic.TopicStats t = r.topic();
      if (!r.running()) {
        out.append(String.format("%n[%-24s] not running; channels: %s%n", t.name(), String.join(", ", t.channels())));
        continue;
      }
      out.append(String.format("%n[%-24s] depth: %-8d msgs: %-10d bytes: %-12d node: %s%s%n",
          t.name(), t.depth(), t.messageCount(), t.messageBytes(), t.node(), t.paused() ? " paused" : ""));
      if (t.dedup() != null && t.dedup().ids() + t.dedup().duplicates() > 0) {
        out.append(String.format("    dedup: window: %dms ids: %d duplicates: %d forgotten early: %d%n",
            t.dedup().windowMs(), t.dedup().ids(), t.dedup().duplicates(), t.dedup().forgottenEarly()));
      }
      for (Channel.ChannelStats c : r.channels()) {
        out.append(String.format("    [%-22s] depth: %-8d inflt: %-6d def: %-6d req: %-6d timeout: %-6d msgs: %-10d clients: %d%s%n",
            c.name(), c.depth(), c.inFlightCount(), c.deferredCount(), c.requeueCount(), c.timeoutCount(),
            c.messageCount(), c.clients().size(), c.paused() ? " paused" : ""));
        Channel.E2eLatency e2e = e2e(c);
        if (e2e.count() > 0) {
          out.append("        e2e processing latency: count: ").append(e2e.count());
          for (Channel.Percentile p : e2e.percentiles()) {
            out.append(p.quantile() == 1.0 ? " max: " : " p" + quantileLabel(p.quantile()) + ": ").append(millis(p.value()));
          }
          out.append(String.format("%n"));
        }
        for (Channel.ClientStats cl : c.clients()) {
          out.append(String.format("        [%s %s] rdy: %d inflt: %d msgs: %d fin: %d req: %d timeout: %d%n",
              cl.clientId(), cl.remoteAddress(), cl.readyCount(), cl.inFlightCount(), cl.messageCount(),
              cl.finishCount(), cl.requeueCount(), cl.timeoutCount()));
        }
      }
    }
    return out.toString();
  }

  /** A node of an older version sends no latency: none. */
  static Channel.E2eLatency e2e(Channel.ChannelStats c) {
    return c.e2eProcessingLatency() == null ? Channel.E2eLatency.NONE : c.e2eProcessingLatency();
  }

  /** 0.5 as 50, 0.999 as 99.9. */
  private static String quantileLabel(double q) {
    return java.math.BigDecimal.valueOf(q * 100).stripTrailingZeros().toPlainString();
  }

  private static String millis(long nanos) {
    return String.format(java.util.Locale.ROOT, "%.1fms", nanos / 1e6);
  }
}
