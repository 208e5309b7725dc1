package herald.stats;

import herald.broker.Channel;
import herald.broker.Topic;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.pekko.actor.typed.ActorSystem;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.ToDoubleFunction;

/**
 * The node's metrics, one registry per node, for {@code GET /metrics} in Prometheus text format.
 * Live meters (publishes through this node, journal writes, the JVM) are kept in the Micrometer
 * registry; the topic and channel series are built at scrape time from a /stats collection, for
 * the topics and channels this node hosts, so that adding up every node's series counts each once.
 * Every series has the label {@code node}: this node's advertised HTTP address.
 */
public final class NodeMetrics implements AutoCloseable {
  public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final String node;
  private final JvmGcMetrics gc = new JvmGcMetrics();

  public NodeMetrics(String node) {
    this.node = node;
    registry.config().commonTags("node", node);
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
  }

  /** Where the broker registers its meters. */
  public MeterRegistry registry() {
    return registry;
  }

  /** The whole text: topic and channel series (when /stats could be collected), then the registry's. */
  public CompletionStage<String> scrape(ActorSystem<?> system) {
    return StatsCollector.collect(system, Optional.empty(), Optional.empty())
        .handle((reports, failure) -> {
          StringBuilder out = new StringBuilder();
          family(out, "herald_stats_up", "gauge", "1 if the topic and channel series below could be collected, else 0");
          sample(out, "herald_stats_up", Map.of("node", node), failure == null ? 1 : 0);
          // Idle topics and channels run nowhere: the cluster's leader reports them, so each counts once.
          var cluster = org.apache.pekko.cluster.typed.Cluster.get(system);
          boolean leader = cluster.selfMember().address().equals(cluster.state().getLeader());
          if (failure == null) out.append(format(node, reports, leader));
          out.append(registry.scrape());
          return out.toString();
        });
  }

  @Override
  public void close() {
    gc.close();
    registry.close();
  }

  // ---- topic and channel series -----------------------------------------------------------------

  private record Series<T>(String name, String type, String help, ToDoubleFunction<T> value) {}

  private static final List<Series<Topic.TopicStats>> TOPIC = List.of(
      new Series<>("herald_topic_depth", "gauge", "messages the topic keeps for its first channel", Topic.TopicStats::depth),
      new Series<>("herald_topic_messages_total", "counter", "messages published to the topic since it was (re-)created",
          Topic.TopicStats::messageCount),
      new Series<>("herald_topic_message_bytes_total", "counter", "bytes published to the topic since it was (re-)created",
          Topic.TopicStats::messageBytes),
      new Series<>("herald_topic_paused", "gauge", "1 while the topic is paused", t -> t.paused() ? 1 : 0),
      new Series<>("herald_topic_journal_deleted_to", "gauge",
          "the topic's journal writes up to this one are deleted, every channel being done with them (0: none since the topic started on this node)",
          Topic.TopicStats::journalDeletedTo),
      new Series<>("herald_topic_duplicates_total", "counter",
          "publishes not stored because their X-Herald-Msg-Id was stored already, since the topic started on this node",
          t -> t.dedup() == null ? 0 : t.dedup().duplicates()),
      new Series<>("herald_topic_dedup_ids", "gauge", "message ids the topic remembers for deduplication",
          t -> t.dedup() == null ? 0 : t.dedup().ids()),
      new Series<>("herald_topic_dedup_forgotten_early_total", "counter",
          "message ids forgotten before their window ended because the topic reached --dedup-max-ids",
          t -> t.dedup() == null ? 0 : t.dedup().forgottenEarly()));

  private static final List<Series<Channel.ChannelStats>> CHANNEL = List.of(
      new Series<>("herald_channel_depth", "gauge", "messages waiting for delivery, neither in flight nor deferred",
          Channel.ChannelStats::depth),
      new Series<>("herald_channel_in_flight", "gauge", "messages delivered and not yet FINed, REQed or timed out",
          Channel.ChannelStats::inFlightCount),
      new Series<>("herald_channel_deferred", "gauge", "messages held until a later time", Channel.ChannelStats::deferredCount),
      new Series<>("herald_channel_messages_total", "counter", "messages of the topic from the channel's start point on",
          Channel.ChannelStats::messageCount),
      new Series<>("herald_channel_requeues_total", "counter", "REQs since the channel started on its node",
          Channel.ChannelStats::requeueCount),
      new Series<>("herald_channel_timeouts_total", "counter", "in-flight messages whose msg_timeout ran out, since the channel started on its node",
          Channel.ChannelStats::timeoutCount),
      new Series<>("herald_channel_dead_letters_total", "counter",
          "messages whose last attempt failed, published to the channel's dead-letter topic and finished",
          Channel.ChannelStats::deadLetterCount),
      new Series<>("herald_channel_dead_letters_waiting", "gauge",
          "messages whose last attempt failed, not yet stored in the dead-letter topic (below --min-free-space they wait for space)",
          Channel.ChannelStats::deadLetterWaitingCount),
      new Series<>("herald_channel_consumers", "gauge", "connected consumers", c -> c.clients().size()),
      new Series<>("herald_channel_paused", "gauge", "1 while the channel is paused", c -> c.paused() ? 1 : 0));

  private static final String E2E = "herald_channel_e2e_processing_latency_seconds";
  private static final String E2E_MAX = "herald_channel_e2e_processing_latency_max_seconds";

  /** Prometheus text for the topics and channels hosted by {@code node}. */
  public static String format(String node, List<StatsCollector.TopicReport> reports) {
    return format(node, reports, false);
  }

  /** The same, with the idle ones (their node is null) when {@code idle}. */
  public static String format(String node, List<StatsCollector.TopicReport> reports, boolean idle) {
    List<Topic.TopicStats> topics = new ArrayList<>();
    List<Channel.ChannelStats> channels = new ArrayList<>();
    for (StatsCollector.TopicReport r : reports) {
      if (!r.known()) continue;
      if (r.topic().node() == null ? idle : node.equals(r.topic().node())) topics.add(r.topic());
      for (Channel.ChannelStats c : r.channels()) if (c.node() == null ? idle : node.equals(c.node())) channels.add(c);
    }
    StringBuilder out = new StringBuilder();
    for (Series<Topic.TopicStats> s : TOPIC) {
      family(out, s.name(), s.type(), s.help());
      for (Topic.TopicStats t : topics) sample(out, s.name(), labels(node, t.name(), null), s.value().applyAsDouble(t));
    }
    for (Series<Channel.ChannelStats> s : CHANNEL) {
      family(out, s.name(), s.type(), s.help());
      for (Channel.ChannelStats c : channels) sample(out, s.name(), labels(node, c.topic(), c.name()), s.value().applyAsDouble(c));
    }
    family(out, E2E, "summary", "FIN time minus publish time (millisecond precision), since the channel started on its node");
    for (Channel.ChannelStats c : channels) {
      Channel.E2eLatency e2e = latency(c);
      Map<String, String> labels = labels(node, c.topic(), c.name());
      for (Channel.Percentile p : e2e.percentiles()) {
        if (p.quantile() >= 1.0) continue;
        Map<String, String> q = new LinkedHashMap<>(labels);
        q.put("quantile", number(p.quantile()));
        sample(out, E2E, q, p.value() / 1e9);
      }
      sample(out, E2E + "_count", labels, e2e.count());
    }
    family(out, E2E_MAX, "gauge", "largest FIN time minus publish time, since the channel started on its node");
    for (Channel.ChannelStats c : channels) {
      Channel.E2eLatency e2e = latency(c);
      e2e.percentiles().stream().filter(p -> p.quantile() >= 1.0).findFirst()
          .ifPresent(max -> sample(out, E2E_MAX, labels(node, c.topic(), c.name()), max.value() / 1e9));
    }
    return out.toString();
  }

  private static Channel.E2eLatency latency(Channel.ChannelStats c) {
    return c.e2eProcessingLatency() == null ? Channel.E2eLatency.NONE : c.e2eProcessingLatency();
  }

  private static Map<String, String> labels(String node, String topic, String channel) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put("node", node);
    labels.put("topic", topic);
    if (channel != null) labels.put("channel", channel);
    return labels;
  }

  private static void family(StringBuilder out, String name, String type, String help) {
    out.append("# HELP ").append(name).append(' ').append(help.replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
  }

  private static void sample(StringBuilder out, String name, Map<String, String> labels, double value) {
    out.append(name);
    if (!labels.isEmpty()) {
      out.append('{');
      String sep = "";
      for (Map.Entry<String, String> l : labels.entrySet()) {
        out.append(sep).append(l.getKey()).append("=\"").append(escape(l.getValue())).append('"');
        sep = ",";
      }
      out.append('}');
    }
    out.append(' ').append(number(value)).append('\n');
  }

  private static String escape(String value) {
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  /** Whole numbers without a fraction; others as Java writes them (Prometheus parses both). */
  private static String number(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) return Long.toString((long) v);
    return String.format(Locale.ROOT, "%s", v);
  }
}
