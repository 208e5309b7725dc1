package herald.cli;

import com.fasterxml.jackson.databind.JsonNode;
import herald.settings.Version;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.locks.LockSupport;

/** {@code herald stat}: nsq_stat. A row per interval of a topic's or a channel's figures from /stats. */
@Command(name = "stat", mixinStandardHelpOptions = true, versionProvider = Version.class, sortOptions = false,
    usageHelpWidth = 110,
    description = {
        "Prints a row every --interval with a channel's depth, in-flight and deferred counts, requeues, timeouts,"
            + " messages, and the rates of messages in (msgs/s) and FINs (fin/s) since the row before, from GET /stats.",
        "Without --channel the row sums the topic's channels; its depth then also counts what the topic keeps for"
            + " a first channel, and msgs/s is the topic's publish rate. The first row has no rates yet (-).",
        "Exit code: 0 after --count rows (or never without it); 1 when the node cannot be reached; 2 for bad flags."})
public final class Stat implements Callable<Integer> {
  private static final String HEADER = String.format(Locale.ROOT, "%-8s %10s %9s %9s %9s %9s %12s %9s %9s %9s",
      "time", "depth", "in-flight", "deferred", "requeued", "timed-out", "messages", "msgs/s", "fin/s", "consumers");
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss");

  @Spec
  CommandSpec spec;

  @Mixin
  SecretOption secret;

  @Option(names = "--http", paramLabel = "HOST:PORT", defaultValue = NodeClient.DEFAULT_ADDRESS,
      description = "node HTTP address; any node of a cluster shows the whole cluster (default: ${DEFAULT-VALUE})")
  String http;

  @Option(names = "--topic", paramLabel = "NAME", required = true, description = "topic")
  String topic;

  @Option(names = "--channel", paramLabel = "NAME", description = "channel; without it, the topic's channels summed")
  String channel;

  @Option(names = "--interval", paramLabel = "DURATION", defaultValue = "1s", converter = NodeClient.DurationConverter.class,
      description = "time between rows, such as 500ms, 1s, 1m (default: ${DEFAULT-VALUE})")
  Duration interval;

  @Option(names = "--count", paramLabel = "N", defaultValue = "0", description = "stop after N rows; 0 = run until interrupted (default: ${DEFAULT-VALUE})")
  long count;

  /** One sample: what the row shows, and the counters the rates come from. */
  record Sample(boolean found, long depth, long inFlight, long deferred, long requeued, long timedOut, long messages,
                long finished, long consumers, long at) {}

  @Override
  public Integer call() throws Exception {
    if (count < 0) throw new ParameterException(spec.commandLine(), "--count must be 0 or more");
    if (interval.isZero() || interval.isNegative()) throw new ParameterException(spec.commandLine(), "--interval must be above 0");
    NodeClient node = NodeClient.of(spec.commandLine(), http, secret);
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String query = "/stats?format=json&topic=" + NodeClient.encode(topic)
        + (channel == null ? "" : "&channel=" + NodeClient.encode(channel));
    try {
      node.ping();
      Sample before = null;
      long next = System.nanoTime();
      for (long row = 0; count == 0 || row < count; row++) {
        while (System.nanoTime() < next) LockSupport.parkNanos(next - System.nanoTime());
        next += interval.toNanos();
        Sample now = sample(node.getJson(query));
        if (row % 25 == 0) out.println(HEADER);
        out.println(row(now, before));
        out.flush();
        before = now;
      }
      return 0;
    } catch (NodeClient.Failure f) {
      out.flush();
      err.println("stat: " + f.getMessage());
      err.flush();
      return 1;
    }
  }

  private Sample sample(JsonNode stats) {
    long at = System.nanoTime();
    for (JsonNode t : stats.path("topics")) {
      if (!t.path("topic_name").asText().equals(topic)) continue;
      long depth = channel == null ? t.path("depth").asLong() : 0;
      long inFlight = 0, deferred = 0, requeued = 0, timedOut = 0, finished = 0, consumers = 0;
      long messages = channel == null ? t.path("message_count").asLong() : 0;
      boolean found = channel == null;
      for (JsonNode c : t.path("channels")) {
        if (channel != null && !c.path("channel_name").asText().equals(channel)) continue;
        found = true;
        depth += c.path("depth").asLong();
        inFlight += c.path("in_flight_count").asLong();
        deferred += c.path("deferred_count").asLong();
        requeued += c.path("requeue_count").asLong();
        timedOut += c.path("timeout_count").asLong();
        finished += c.path("e2e_processing_latency").path("count").asLong();
        consumers += c.path("client_count").asLong();
        if (channel != null) messages += c.path("message_count").asLong();
      }
      return new Sample(found, depth, inFlight, deferred, requeued, timedOut, messages, finished, consumers, at);
    }
    return new Sample(false, 0, 0, 0, 0, 0, 0, 0, 0, at);
  }

  private String row(Sample s, Sample before) {
    String time = LocalTime.now().format(TIME);
    if (!s.found()) {
      return String.format(Locale.ROOT, "%-8s %s", time, channel == null
          ? "topic " + topic + " does not exist" : "topic " + topic + " has no channel " + channel);
    }
    String in = "-";
    String fin = "-";
    if (before != null && before.found()) {
      double seconds = Math.max(1e-9, (s.at() - before.at()) / 1e9);
      in = rate(s.messages() - before.messages(), seconds);
      fin = rate(s.finished() - before.finished(), seconds);
    }
    return String.format(Locale.ROOT, "%-8s %10d %9d %9d %9d %9d %12d %9s %9s %9d", time, s.depth(), s.inFlight(),
        s.deferred(), s.requeued(), s.timedOut(), s.messages(), in, fin, s.consumers());
  }

  /** A counter that went down (a channel restarted, a topic re-created) has no rate. */
  private static String rate(long delta, double seconds) {
    if (delta < 0) return "-";
    return String.format(Locale.ROOT, "%.0f", delta / seconds);
  }
}
