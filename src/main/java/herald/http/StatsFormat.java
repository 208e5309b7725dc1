package herald.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import herald.broker.Channel;
import herald.broker.Topic;
import herald.stats.StatsCollector.TopicReport;
import herald.stats.TcpProducers;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.List;

/** /stats in nsqd's JSON shape, or as a table for people. */
public final class StatsFormat {
  private static final ObjectMapper JSON = new ObjectMapper();

  private StatsFormat() {}

  /**
   * nsqd's /stats parameters: a topic asked for by name (nsqd answers null topics when it has no
   * such topic), a channel asked for by name (a topic without it is left out), include_clients
   * and include_mem.
   */
  public record Options(boolean topicFiltered, boolean channelFiltered, boolean includeClients, boolean includeMem) {}

  public static String json(String version, long startTime, Options options, List<TopicReport> reports) {
    return json(version, "OK", startTime, options, reports);
  }

  /** {@code health}: "OK", or nsqd's "NOK - " and why (see herald.node.Health). */
  public static String json(String version, String health, long startTime, Options options, List<TopicReport> reports) {
    return json(version, health, startTime, options, reports, List.of(), java.util.Optional.empty());
  }

  /** With the node's NSQ TCP publishers; {@code topic}, when asked for, narrows their pub_counts. */
  public static String json(String version, String health, long startTime, Options options, List<TopicReport> reports,
      List<TcpProducers.Snapshot> producers, java.util.Optional<String> topic) {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", version);
    root.put("health", health);
    root.put("start_time", startTime);
    if (options.topicFiltered() && reports.isEmpty()) {
      root.putNull("topics");
    } else {
      topics(root.putArray("topics"), options, reports);
    }
    if (options.includeMem()) memory(root.putObject("memory"));
    // nsqd's producers are its TCP publishers (HTTP publishers are not listed), only with clients.
    if (!options.includeClients() || producers.isEmpty()) {
      root.putNull("producers");
    } else {
      producers(root.putArray("producers"), producers, topic);
    }
    return root.toString();
  }

  /** nsqd's ClientV2Stats of a publisher: its consumer counts are 0 and its state nsqd's init (0). */
  private static void producers(ArrayNode out, List<TcpProducers.Snapshot> producers, java.util.Optional<String> topic) {
    for (TcpProducers.Snapshot p : producers) {
      ObjectNode client = out.addObject();
      client.put("client_id", p.clientId());
      client.put("hostname", p.client().hostname());
      client.put("version", p.client().version());
      client.put("remote_address", p.remoteAddress());
      client.put("state", 0);
      for (String zero : List.of("ready_count", "in_flight_count", "message_count", "finish_count", "requeue_count")) client.put(zero, 0);
      client.put("connect_ts", p.connectTs() / 1000);
      client.put("sample_rate", p.client().sampleRate());
      client.put("deflate", p.client().deflate());
      client.put("snappy", p.client().snappy());
      client.put("user_agent", p.client().userAgent());
      // nsqd leaves out (omitempty) what is empty.
      if (!p.identity().isEmpty()) {
        client.put("authed", true);
        client.put("auth_identity", p.identity());
        if (!p.identityUrl().isEmpty()) client.put("auth_identity_url", p.identityUrl());
      }
      ArrayNode counts = JSON.createArrayNode();
      p.pubCounts().forEach((name, count) -> {
        if (topic.isEmpty() || topic.get().equals(name)) counts.addObject().put("topic", name).put("count", count);
      });
      if (!counts.isEmpty()) client.set("pub_counts", counts);
      tls(client, p.client());
    }
  }

  private static void tls(ObjectNode client, herald.broker.ClientInfo info) {
    client.put("tls", info.tls());
    client.put("tls_cipher_suite", info.tlsCipherSuite());
    client.put("tls_version", info.tlsVersion());
    client.put("tls_negotiated_protocol", "");
    client.put("tls_negotiated_protocol_is_mutual", false);
  }

  private static void topics(ArrayNode topics, Options options, List<TopicReport> reports) {
    for (TopicReport r : reports) {
      Topic.TopicStats t = r.topic();
      if (options.channelFiltered()
          && (r.known() ? r.channels().isEmpty() && r.unknownChannels().isEmpty() : t.channels().isEmpty())) continue;
      ObjectNode topic = topics.addObject();
      if (!r.known()) {
        notRunning(topic, t);
        continue;
      }
      topic.put("topic_name", t.name());
      topic.put("running", r.running());
      topic.put("state", r.running() ? "running" : "idle");
      topic.put("node", t.node());
      topic.put("paused", t.paused());
      topic.put("depth", t.depth());
      // Every waiting message is in the journal on disk: all of the depth is backend depth.
      topic.put("backend_depth", t.depth());
      topic.put("message_count", t.messageCount());
      topic.put("message_bytes", t.messageBytes());
      if (t.dedup() != null) {
        ObjectNode dedup = topic.putObject("dedup");
        dedup.put("window_ms", t.dedup().windowMs());
        dedup.put("ids", t.dedup().ids());
        dedup.put("duplicates", t.dedup().duplicates());
        dedup.put("forgotten_early", t.dedup().forgottenEarly());
      }
      if (t.retention() != null) {
        ObjectNode retention = topic.putObject("retention");
        retention.put("time_ms", t.retention().timeMs());
        retention.put("bytes", t.retention().bytes());
      }
      latency(topic, topicE2e(r.channels()));
      ArrayNode channels = topic.putArray("channels");
      for (Channel.ChannelStats c : r.channels()) {
        ObjectNode channel = channels.addObject();
        channel.put("channel_name", c.name());
        // An idle channel (stopped, its figures kept by the registry) has no node.
        channel.put("running", c.node() != null);
        channel.put("state", c.node() != null ? "running" : "idle");
        channel.put("node", c.node());
        channel.put("paused", c.paused());
        channel.put("depth", c.depth());
        channel.put("backend_depth", c.depth());
        channel.put("in_flight_count", c.inFlightCount());
        channel.put("deferred_count", c.deferredCount());
        channel.put("message_count", c.messageCount());
        channel.put("requeue_count", c.requeueCount());
        channel.put("timeout_count", c.timeoutCount());
        channel.put("rewind_count", c.rewindCount());
        // Herald's dead letters: max_attempts 0 is no limit (NSQ's behaviour).
        channel.put("dead_letter_count", c.deadLetterCount());
        channel.put("dead_letter_waiting_count", c.deadLetterWaitingCount());
        channel.put("max_attempts", c.maxAttempts());
        channel.put("dead_letter_topic", hasDeadLetters(c) ? c.deadLetterTopic() : null);
        latency(channel, e2e(c));
        channel.put("client_count", c.clients().size());
        if (!options.includeClients()) {
          channel.putNull("clients");
          continue;
        }
        ArrayNode clients = channel.putArray("clients");
        for (Channel.ClientStats cl : c.clients()) {
          ObjectNode client = clients.addObject();
          client.put("client_id", cl.clientId());
          // What an NSQ TCP client sent in IDENTIFY ("V2"); a WebSocket client's host and "ws".
          client.put("hostname", cl.client().hostname());
          client.put("version", cl.client().version());
          // nsqd's state 3: subscribed.
          client.put("remote_address", cl.remoteAddress());
          client.put("state", 3);
          client.put("ready_count", cl.readyCount());
          client.put("in_flight_count", cl.inFlightCount());
          client.put("message_count", cl.messageCount());
          client.put("finish_count", cl.finishCount());
          client.put("requeue_count", cl.requeueCount());
          client.put("timeout_count", cl.timeoutCount());
          client.put("connect_ts", cl.connectTs() / 1000);
          client.put("sample_rate", cl.client().sampleRate());
          client.put("deflate", cl.client().deflate());
          client.put("snappy", cl.client().snappy());
          client.put("user_agent", cl.client().userAgent());
          tls(client, cl.client());
        }
      }
      for (String name : r.unknownChannels()) unknownChannel(channels, name);
    }
  }

  private static void latency(ObjectNode parent, Channel.E2eLatency e2e) {
    ObjectNode latency = parent.putObject("e2e_processing_latency");
    latency.put("count", e2e.count());
    ArrayNode percentiles = latency.putArray("percentiles");
    for (Channel.Percentile p : e2e.percentiles()) {
      percentiles.addObject().put("quantile", p.quantile()).put("value", p.value());
    }
  }

  /**
   * nsqd's topic-level latency merges its channels'. Only the channels' percentiles reach here, so
   * each quantile is the largest of the channels' values: an upper bound, exact for one channel.
   */
  static Channel.E2eLatency topicE2e(List<Channel.ChannelStats> channels) {
    long count = 0;
    java.util.TreeMap<Double, Long> worst = new java.util.TreeMap<>();
    for (Channel.ChannelStats c : channels) {
      Channel.E2eLatency e2e = e2e(c);
      count += e2e.count();
      for (Channel.Percentile p : e2e.percentiles()) worst.merge(p.quantile(), p.value(), Math::max);
    }
    if (count == 0) return Channel.E2eLatency.NONE;
    return new Channel.E2eLatency(count, worst.entrySet().stream()
        .map(e -> new Channel.Percentile(e.getKey(), e.getValue())).toList());
  }

  /**
   * nsqd's Go runtime figures as the JVM has them: heap in use is the heap used, idle is committed
   * but unused, gc_total_runs counts every collection so far. The JVM keeps no object count, no
   * released-bytes or next-collection figure and no per-pause history: those stay 0 (docs/compat.md).
   */
  private static void memory(ObjectNode memory) {
    java.lang.management.MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    long runs = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) runs += Math.max(0, gc.getCollectionCount());
    memory.put("heap_objects", 0);
    memory.put("heap_idle_bytes", heap.getCommitted() - heap.getUsed());
    memory.put("heap_in_use_bytes", heap.getUsed());
    memory.put("heap_released_bytes", 0);
    memory.put("gc_pause_usec_100", 0);
    memory.put("gc_pause_usec_99", 0);
    memory.put("gc_pause_usec_95", 0);
    memory.put("next_gc_bytes", 0);
    memory.put("gc_total_runs", runs);
  }

  private static void unknownChannel(ArrayNode channels, String name) {
    ObjectNode channel = channels.addObject();
    channel.put("channel_name", name);
    channel.put("running", false);
    channel.put("state", "unknown");
    latency(channel, Channel.E2eLatency.NONE);
  }

  /**
   * A topic whose entity is not running, as the registry knows it: its name and its channels'
   * names. Its figures would need the entity started, so they are null rather than invented.
   */
  private static void notRunning(ObjectNode topic, Topic.TopicStats t) {
    topic.put("topic_name", t.name());
    topic.put("running", false);
    topic.put("state", "unknown");
    for (String field : new String[] {"node", "paused", "depth", "backend_depth", "message_count", "message_bytes"}) topic.putNull(field);
    // Latency counts FINs since the entity started: none for one not running (nsqadmin needs the object).
    latency(topic, Channel.E2eLatency.NONE);
    ArrayNode channels = topic.putArray("channels");
    for (String name : t.channels()) unknownChannel(channels, name);
  }

  public static String text(String version, List<TopicReport> reports) {
    return text(version, "OK", reports);
  }

  public static String text(String version, String health, List<TopicReport> reports) {
    StringBuilder out = new StringBuilder("herald " + version + "\nhealth: " + health + "\n");
    if (reports.isEmpty()) out.append("\n   NO_TOPICS\n");
    for (TopicReport r : reports) {
      Topic.TopicStats t = r.topic();
      if (!r.known()) {
        out.append(String.format("%n[%-24s] not running, figures unknown; channels: %s%n", t.name(), String.join(", ", t.channels())));
        continue;
      }
      out.append(String.format("%n[%-24s] depth: %-8d msgs: %-10d bytes: %-12d node: %s%s%n",
          t.name(), t.depth(), t.messageCount(), t.messageBytes(), t.node() != null ? t.node() : "(idle)", t.paused() ? " paused" : ""));
      if (t.dedup() != null && t.dedup().ids() + t.dedup().duplicates() > 0) {
        out.append(String.format("    dedup: window: %dms ids: %d duplicates: %d forgotten early: %d%n",
            t.dedup().windowMs(), t.dedup().ids(), t.dedup().duplicates(), t.dedup().forgottenEarly()));
      }
      if (t.retention() != null && t.retention().timeMs() + t.retention().bytes() > 0) {
        out.append(String.format("    retention: time: %dms bytes: %d%n", t.retention().timeMs(), t.retention().bytes()));
      }
      for (Channel.ChannelStats c : r.channels()) {
        out.append(String.format("    [%-22s] depth: %-8d inflt: %-6d def: %-6d req: %-6d timeout: %-6d msgs: %-10d clients: %d%s%n",
            c.name(), c.depth(), c.inFlightCount(), c.deferredCount(), c.requeueCount(), c.timeoutCount(),
            c.messageCount(), c.clients().size(), c.paused() ? " paused" : ""));
        if (hasDeadLetters(c)) {
          out.append(String.format("        dead letters: %d max attempts: %d to: %s", c.deadLetterCount(), c.maxAttempts(),
              c.deadLetterTopic()));
          if (c.deadLetterWaitingCount() > 0) out.append(" waiting: ").append(c.deadLetterWaitingCount());
          out.append(String.format("%n"));
        }
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
      for (String name : r.unknownChannels()) out.append(String.format("    [%-22s] not running, figures unknown%n", name));
    }
    return out.toString();
  }

  /** The channel has a limit on attempts, or has dead letters (stored or waiting) from an earlier one. */
  private static boolean hasDeadLetters(Channel.ChannelStats c) {
    return c.maxAttempts() > 0 || c.deadLetterCount() > 0 || c.deadLetterWaitingCount() > 0;
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
