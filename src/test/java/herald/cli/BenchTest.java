package herald.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import herald.e2e.NodeProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** herald bench against a real node: the counts add up; an unreachable node fails clearly. */
@Timeout(60)
class BenchTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static Path data;
  private static NodeProcess node;

  record Result(int code, String out, String err) {
    JsonNode json() throws Exception {
      return JSON.readTree(out);
    }
  }

  @BeforeAll
  static void start() throws Exception {
    data = Files.createTempDirectory("herald-bench-");
    node = NodeProcess.start(data);
  }

  @AfterAll
  static void stop() throws Exception {
    if (node != null) node.close();
    if (data != null) {
      try (var files = Files.walk(data)) {
        files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  static Result bench(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = new CommandLine(new Bench());
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int code = cli.execute(args);
    return new Result(code, out.toString(), err.toString());
  }

  @Test
  void everyAcknowledgedMessageIsConsumed() throws Exception {
    Result r = bench("--http", node.baseUrl(), "--topic", "bench-binary", "--duration", "2s", "--publishers", "2",
        "--batch", "10", "--consumers", "2", "--size", "100", "--json");
    assertEquals(0, r.code(), () -> "exit code; stdout:\n" + r.out() + "\nstderr:\n" + r.err() + "\nnode:\n" + node.logTail());
    JsonNode j = r.json();
    long acked = j.path("acknowledged").asLong();
    assertTrue(acked > 0, () -> "nothing acknowledged: " + j);
    assertEquals(0, acked % 10, () -> "whole batches are acknowledged: " + j);
    assertEquals(acked, j.path("consumed_distinct").asLong() - j.path("consumed_unacknowledged").asLong(), j::toString);
    assertEquals(0, j.path("missing").asLong(), j::toString);
    assertEquals(j.path("consumed_distinct").asLong() + j.path("duplicates").asLong(), j.path("consumed").asLong(), j::toString);
    // No timeout (msg_timeout 60 s), REQ, disconnect or restart happens here: nothing may come twice.
    assertEquals(0, j.path("duplicates").asLong(), j::toString);
    assertEquals(j.path("sent").asLong(), acked + j.path("unacknowledged").asLong(), j::toString);
    assertTrue(j.path("ok").asBoolean(), j::toString);
    assertEquals(acked, j.path("e2e_latency_ms").path("count").asLong() - j.path("consumed_unacknowledged").asLong(), j::toString);
    assertTrue(j.path("ack_latency_ms").path("count").asLong() > 0, j::toString);
    // The bench's own collections in the measured part, beside the figures they would inflate.
    assertTrue(j.path("bench_gc_collections").isIntegralNumber() && j.path("bench_gc_collections").asLong() >= 0, j::toString);
    assertTrue(j.path("bench_gc_ms").isIntegralNumber() && j.path("bench_gc_ms").asLong() >= 0, j::toString);
    assertTrue(r.err().contains("published"), () -> "progress lines go to stderr with --json: " + r.err());
  }

  @Test
  void aWarmUpRunsTheSameLoadFirstAndIsNotCounted() throws Exception {
    Result r = bench("--http", node.baseUrl(), "--topic", "bench-warmup", "--warmup", "2s", "--duration", "2s",
        "--publishers", "2", "--batch", "10", "--rate", "1000", "--consumers", "1", "--size", "100", "--json");
    assertEquals(0, r.code(), () -> "exit code; stdout:\n" + r.out() + "\nstderr:\n" + r.err() + "\nnode:\n" + node.logTail());
    assertTrue(r.err().contains("warming up for 2s"), r::err);
    JsonNode j = r.json();
    // 1,000 msgs/s for the measured 2 s: the warm-up's 2 s of the same load would double it.
    long acked = j.path("acknowledged").asLong();
    assertTrue(acked > 0 && acked <= 2000, () -> "only the measured run counts: " + j);
    assertEquals(acked, j.path("e2e_latency_ms").path("count").asLong(), j::toString);
    // The warm-up is the same run on the same connections: its messages are this run's, verified (missing would fail
    // the run), not counted.
    assertEquals(0, j.path("foreign").asLong(), j::toString);
    assertEquals(0, j.path("missing").asLong(), j::toString);
    assertTrue(j.path("ok").asBoolean(), j::toString);
  }

  @Test
  void overNsqTcpEveryAcknowledgedMessageIsConsumed() throws Exception {
    for (String batch : new String[] {"1", "10"}) {
      Result r = bench("--tcp", "127.0.0.1:" + node.tcpPort(), "--topic", "bench-tcp-" + batch, "--duration", "2s",
          "--publishers", "2", "--batch", batch, "--consumers", "2", "--size", "100", "--json");
      assertEveryAcknowledgedConsumedOnce(r);
      assertTrue(r.err().contains("tcp " + (batch.equals("1") ? "PUB" : "MPUB")), r::err);
    }
  }

  private static void assertEveryAcknowledgedConsumedOnce(Result r) throws Exception {
    assertEquals(0, r.code(), () -> "exit code; stdout:\n" + r.out() + "\nstderr:\n" + r.err() + "\nnode:\n" + node.logTail());
    JsonNode j = r.json();
    long acked = j.path("acknowledged").asLong();
    assertTrue(acked > 0, () -> "nothing acknowledged: " + j);
    assertEquals(0, j.path("missing").asLong(), j::toString);
    assertEquals(acked, j.path("consumed_distinct").asLong() - j.path("consumed_unacknowledged").asLong(), j::toString);
    assertEquals(0, j.path("duplicates").asLong(), j::toString);
  }

  @Test
  void httpPublishersWithUnbufferedTcpConsumers() throws Exception {
    // The shape of the end-to-end run against nsqd, which has no WebSocket: /mpub over HTTP, SUB over TCP.
    Result r = bench("--http", node.baseUrl(), "--sub-tcp", "127.0.0.1:" + node.tcpPort(), "--sub-unbuffered",
        "--topic", "bench-http-tcp", "--duration", "2s", "--publishers", "2", "--batch", "10", "--consumers", "2",
        "--size", "100", "--json");
    assertEveryAcknowledgedConsumedOnce(r);
    assertTrue(r.err().contains("/mpub batch 10") && r.err().contains("2 tcp consumer(s)"), r::err);
  }

  @Test
  void withoutPublishersTheConsumersTakeTheBacklog() throws Exception {
    String[][] protocols = {{"--tcp", "127.0.0.1:" + node.tcpPort()}, {"--http", node.baseUrl()}};
    for (String[] protocol : protocols) {
      String topic = "bench-backlog-" + protocol[0].substring(2);
      node.http().createChannel(topic, "bench");
      StringBuilder body = new StringBuilder();
      for (int i = 0; i < 300; i++) body.append("backlog message ").append(i).append('\n');
      assertEquals(200, node.http().post("/mpub?topic=" + topic, body.toString()).status());
      assertEquals(200, node.http().post("/mpub?topic=" + topic, body.toString()).status());
      Result r = bench(protocol[0], protocol[1], "--topic", topic, "--publishers", "0", "--consumers", "2",
          "--duration", "2s", "--json");
      assertEquals(0, r.code(), () -> "stdout:\n" + r.out() + "\nstderr:\n" + r.err() + "\nnode:\n" + node.logTail());
      JsonNode j = r.json();
      assertEquals(600, j.path("consumed").asLong(), j::toString);
      assertEquals(0, j.path("acknowledged").asLong(), j::toString);
      assertTrue(j.path("consume_msgs_per_s").asDouble() > 0, j::toString);
      // Each was FINed: the channel comes to nothing waiting and nothing in flight (FINs sent last may still be on their way).
      herald.e2e.Await.until(java.time.Duration.ofSeconds(10), "every message of " + topic + " finished", () -> {
        JsonNode channel = node.http().channelStats(topic, "bench");
        return channel.path("depth").asLong() == 0 && channel.path("in_flight_count").asLong() == 0;
      });
    }
    Result alone = bench("--http", node.baseUrl(), "--publishers", "0", "--duration", "1s");
    assertEquals(2, alone.code(), alone::err);
    assertTrue(alone.err().contains("--publishers 0 needs --consumers"), alone::err);
  }

  @Test
  void theSlowLogListsEachLateAnswerAndDeliveryWithItsDueTimeOnTheMonotonicClock() throws Exception {
    Path log = data.resolve("slow.txt");
    long before = System.nanoTime() / 1000; // CLOCK_MONOTONIC on Linux, as the bench's own stamps
    Result r = bench("--http", node.baseUrl(), "--topic", "bench-slow", "--duration", "1s", "--publishers", "2",
        "--batch", "10", "--rate", "200", "--consumers", "1", "--size", "100", "--slow-log", log.toString(),
        "--slow-ms", "0", "--json");
    long after = System.nanoTime() / 1000;
    assertEquals(0, r.code(), () -> "exit code; stdout:\n" + r.out() + "\nstderr:\n" + r.err() + "\nnode:\n" + node.logTail());
    JsonNode j = r.json();
    var lines = Files.readAllLines(log);
    // Threshold 0: every answered request and every delivered message is later than it.
    assertEquals(j.path("ack_latency_ms").path("count").asLong(), lines.stream().filter(l -> l.startsWith("ack ")).count(), j::toString);
    assertEquals(j.path("e2e_latency_ms").path("count").asLong(), lines.stream().filter(l -> l.startsWith("e2e ")).count(), j::toString);
    for (String line : lines) {
      String[] f = line.split(" ");
      assertEquals(5, f.length, line);
      long dueMicros = Math.round(Double.parseDouble(f[1]) * 1e6);
      assertTrue(dueMicros >= before && dueMicros <= after, () -> "due time on this process's monotonic clock, within the run: " + line
          + " (run " + before + ".." + after + " us)");
      assertTrue(Double.parseDouble(f[2]) >= 0, line);
    }
  }

  @Test
  void theSlowLogKeepsAtMostSlowMaxLinesAndSaysHowManyItLeftOut() throws Exception {
    Path log = data.resolve("slowest.txt");
    Result r = bench("--http", node.baseUrl(), "--topic", "bench-slowest", "--duration", "1s", "--publishers", "2",
        "--batch", "10", "--rate", "200", "--consumers", "1", "--size", "100", "--slow-log", log.toString(),
        "--slow-ms", "0", "--slow-max", "5", "--json");
    assertEquals(0, r.code(), () -> "exit code; stdout:\n" + r.out() + "\nstderr:\n" + r.err());
    JsonNode j = r.json();
    long late = j.path("ack_latency_ms").path("count").asLong() + j.path("e2e_latency_ms").path("count").asLong();
    assertTrue(late > 5, j::toString);
    var lines = Files.readAllLines(log);
    assertEquals(5, lines.size(), lines::toString);
    assertEquals(late - 5, j.path("slow_log_left_out").asLong(), j::toString);
    assertTrue(r.err().contains("--slow-log kept the 5 slowest; " + (late - 5) + " more later than --slow-ms were left out"), r::err);
    for (int i = 1; i < lines.size(); i++) {
      assertTrue(Double.parseDouble(lines.get(i - 1).split(" ")[1]) <= Double.parseDouble(lines.get(i).split(" ")[1]),
          () -> "in order of due time: " + lines);
    }
    assertEquals(2, bench("--http", node.baseUrl(), "--slow-max", "0").code());
  }

  @Test
  void jsonFormatAndSinglePublishes() throws Exception {
    Result r = bench("--http", node.baseUrl(), "--topic", "bench-json", "--format", "json", "--duration", "1s",
        "--publishers", "2", "--batch", "1", "--consumers", "1", "--json");
    assertEquals(0, r.code(), () -> "exit code; stdout:\n" + r.out() + "\nstderr:\n" + r.err());
    JsonNode j = r.json();
    assertTrue(j.path("acknowledged").asLong() > 0, j::toString);
    assertEquals(0, j.path("missing").asLong(), j::toString);
    assertEquals(j.path("acknowledged").asLong(), j.path("consumed_distinct").asLong() - j.path("consumed_unacknowledged").asLong(),
        j::toString);
    assertEquals(0, j.path("duplicates").asLong(), j::toString);
  }

  @Test
  void withIdsEveryMessageIsStoredAndConsumedOnce() throws Exception {
    for (String[] mode : new String[][] {{"sequence", "10"}, {"line", "1"}}) {
      String topic = "bench-ids-" + mode[0];
      Result r = bench("--http", node.baseUrl(), "--topic", topic, "--duration", "1s", "--publishers", "2",
          "--batch", mode[1], "--consumers", "1", "--msg-id-from", mode[0], "--json");
      assertEquals(0, r.code(), () -> "stdout:\n" + r.out() + "\nstderr:\n" + r.err());
      JsonNode j = r.json();
      long acked = j.path("acknowledged").asLong();
      assertTrue(acked > 0, j::toString);
      assertEquals(mode[0], j.path("config").path("msg_id_from").asText());
      assertEquals(0, j.path("missing").asLong(), j::toString);
      assertEquals(0, j.path("duplicates").asLong(), j::toString);
      // Every message had its own id: the node stored each (none was taken for a duplicate).
      JsonNode stats = JSON.readTree(node.http().get("/stats?format=json&topic=" + topic).body()).path("topics").get(0);
      assertEquals(acked, stats.path("message_count").asLong(), stats::toString);
      assertEquals(acked, stats.path("dedup").path("ids").asLong(), stats::toString);
      assertEquals(0, stats.path("dedup").path("duplicates").asLong(), stats::toString);
    }
  }

  @Test
  void mpubInNsqsBinaryLayoutWithoutIds() throws Exception {
    String topic = "bench-mpub-binary";
    Result r = bench("--http", node.baseUrl(), "--topic", topic, "--duration", "1s", "--publishers", "2",
        "--batch", "10", "--consumers", "1", "--mpub-binary", "--json");
    assertEquals(0, r.code(), () -> "stdout:\n" + r.out() + "\nstderr:\n" + r.err());
    JsonNode j = r.json();
    long acked = j.path("acknowledged").asLong();
    assertTrue(acked > 0, j::toString);
    assertTrue(j.path("config").path("mpub_binary").asBoolean(), j::toString);
    // The consumer reads every body back as the bench wrote it: the binary layout split them right.
    assertEquals(0, j.path("missing").asLong(), j::toString);
    assertEquals(0, j.path("duplicates").asLong(), j::toString);
    JsonNode stats = JSON.readTree(node.http().get("/stats?format=json&topic=" + topic).body()).path("topics").get(0);
    assertEquals(acked, stats.path("message_count").asLong(), stats::toString);
    assertEquals(0, stats.path("dedup").path("ids").asLong(), stats::toString);
  }

  @Test
  void humanSummaryWithoutJson() {
    Result r = bench("--http", node.baseUrl(), "--topic", "bench-text", "--duration", "500ms", "--publishers", "1", "--batch", "5");
    assertEquals(0, r.code(), () -> "stdout:\n" + r.out() + "\nstderr:\n" + r.err());
    assertTrue(r.out().contains("published:") && r.out().contains("ack latency:"), r.out());
  }

  @Test
  void rejectedPublishesAreCountedByTheNodesErrorCode() throws Exception {
    Result r = bench("--http", node.baseUrl(), "--topic", "bad!name", "--duration", "300ms", "--publishers", "1",
        "--batch", "1", "--json");
    assertEquals(1, r.code(), () -> "stdout:\n" + r.out() + "\nstderr:\n" + r.err());
    JsonNode j = r.json();
    long rejected = j.path("errors").path("http 400 INVALID_TOPIC").asLong();
    assertTrue(rejected > 0, j::toString);
    assertEquals(j.path("sent").asLong(), rejected, j::toString);
    assertEquals(0, j.path("acknowledged").asLong(), j::toString);
    assertTrue(j.path("failure").asText().contains("no message was acknowledged"), j::toString);
  }

  @Test
  void unreachableNodeFailsWithOneClearLine() throws Exception {
    Result r;
    int port;
    try (java.net.Socket refusing = NodeProcess.refusingPort()) {
      port = refusing.getLocalPort();
      r = bench("--http", "127.0.0.1:" + port, "--duration", "1s", "--json");
    }
    assertNotEquals(0, r.code());
    assertTrue(r.err().startsWith("bench: cannot reach herald at http://127.0.0.1:" + port), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertEquals("", r.out());
  }

  @Test
  void badFlagsAreRefused() {
    Result r = bench("--size", "10");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--size must be at least"), r.err());
    Result sub = bench("--sub-tcp", "nowhere");
    assertEquals(2, sub.code(), sub.err());
    assertTrue(sub.err().contains("--sub-tcp must be HOST:PORT"), sub.err());
  }
}
