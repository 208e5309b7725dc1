package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import herald.cli.Pub;
import herald.cli.Stat;
import herald.cli.Tail;
import herald.cli.ToFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** herald pub, tail, stat and to-file against a real node, run in this JVM as picocli commands. */
@Timeout(60)
class ToolsTest extends SharedNode {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final ExecutorService background = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "tools-test");
    t.setDaemon(true);
    return t;
  });
  private static Path files;

  record Result(int code, String out, String err) {
    @Override
    public String toString() {
      return "exit " + code + "\nstdout:\n" + out + "\nstderr:\n" + err;
    }
  }

  @BeforeAll
  static void start() throws Exception {
    startNode("--max-msg-size", "1000");
    files = Files.createTempDirectory("herald-tools-");
  }

  @AfterAll
  static void cleanUp() throws Exception {
    background.shutdownNow();
    try (var all = Files.walk(files)) {
      all.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }

  /** Runs a tool in this JVM; with stdin, System.in is that text meanwhile. */
  static synchronized Result run(Object tool, String stdin, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = new CommandLine(tool);
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    InputStream in = System.in;
    if (stdin != null) System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
    try {
      int code = cli.execute(args);
      return new Result(code, out.toString(), err.toString());
    } finally {
      System.setIn(in);
    }
  }

  static String http() {
    return node.httpAddress();
  }

  static JsonNode topicStats(String topic) throws Exception {
    JsonNode topics = http.stats(topic, null).path("topics");
    return topics.size() == 1 ? topics.get(0) : null;
  }

  static String lines(int from, int to) {
    return IntStream.rangeClosed(from, to).mapToObj(i -> "line " + i + "\n").collect(Collectors.joining());
  }

  // ---- pub ------------------------------------------------------------------------------------------

  @Test
  void pubPublishesEveryNonEmptyLineInBatches() throws Exception {
    String topic = unique("pub");
    Result r = run(new Pub(), lines(1, 250) + "\n\nlast without newline", "--http", http(), "--topic", topic);
    assertEquals(0, r.code(), r::toString);
    assertEquals("published 251 messages to " + topic + "\n", r.out(), r::toString);
    assertEquals(251, topicStats(topic).path("message_count").asInt());
    assertTrue(http.get("/metrics").body().lines().anyMatch(l -> l.startsWith("herald_messages_published_total{")
        && l.contains("topic=\"" + topic + "\"") && l.endsWith(" 251.0")), "counted as published through the node");
  }

  @Test
  void pubWithIdsPublishesEachLineOnceAcrossRuns() throws Exception {
    // line: the id is the line's hash, so a repeated line is one message, and so is a second run.
    String byLine = unique("pub-ids-line");
    String input = "alpha\nbeta\nalpha\ngamma\n";
    assertEquals(0, run(new Pub(), input, "--http", http(), "--topic", byLine, "--msg-id-from", "line").code());
    assertEquals(0, run(new Pub(), input, "--http", http(), "--topic", byLine, "--msg-id-from", "line").code());
    assertEquals(3, topicStats(byLine).path("message_count").asInt());
    assertEquals(5, topicStats(byLine).path("dedup").path("duplicates").asInt());

    // sequence: equal lines stay distinct; the same prefix over the same input publishes them once.
    String bySeq = unique("pub-ids-seq");
    for (int i = 0; i < 2; i++) {
      Result r = run(new Pub(), input, "--http", http(), "--topic", bySeq, "--msg-id-from", "sequence", "--msg-id-prefix", "run-7");
      assertEquals(0, r.code(), r::toString);
    }
    assertEquals(4, topicStats(bySeq).path("message_count").asInt());
    assertEquals(0, run(new Pub(), input, "--http", http(), "--topic", bySeq, "--msg-id-from", "sequence").code());
    assertEquals(8, topicStats(bySeq).path("message_count").asInt(), "a random prefix per run by default");
    Result bad = run(new Pub(), input, "--http", http(), "--topic", bySeq, "--msg-id-from", "sequence", "--msg-id-prefix", "a b");
    assertEquals(2, bad.code(), bad::toString);
  }

  @Test
  void pubKeepsToTheRate() throws Exception {
    String topic = unique("pubrate");
    long start = System.nanoTime();
    Result r = run(new Pub(), lines(1, 20), "--http", http(), "--topic", topic, "--rate", "200");
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals(0, r.code(), r::toString);
    assertEquals(20, topicStats(topic).path("message_count").asInt());
    assertTrue(ms >= 90, "20 messages at 200/s take at least 95 ms, took " + ms);
  }

  @Test
  void pubFailsOnALineTheNodeWouldRefuse() throws Exception {
    String topic = unique("pubbig");
    Result r = run(new Pub(), "ok\n" + "x".repeat(1001) + "\n", "--http", http(), "--topic", topic, "--batch-size", "1");
    assertEquals(1, r.code(), r::toString);
    assertTrue(r.err().startsWith("pub: message 2 is 1001 bytes, above the node's max message size of 1000"), r::toString);
    assertEquals("published 1 message to " + topic + "\n", r.out(), r::toString);
  }

  // ---- tail -----------------------------------------------------------------------------------------

  @Test
  void tailPrintsThePublishedBodiesThenItsChannelGoes() throws Exception {
    String topic = unique("tail");
    assertEquals(200, http.post("/topic/create?topic=" + topic, "").status());
    assertEquals(200, http.post("/channel/create?topic=" + topic + "&channel=other", "").status());
    Future<Result> tail = background.submit(() -> run(new Tail(), null, "--http", http(), "--topic", topic, "-n", "3"));
    Await.until(WAIT, "tail's channel exists", () -> tailChannels(topic) == 1 || tail.isDone());
    assertEquals(200, http.post("/mpub?topic=" + topic, "first\nsecond\nthird\nfourth").status());
    Result r = tail.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertEquals(0, r.code(), r::toString);
    assertEquals("first\nsecond\nthird\n", r.out(), r::toString);
    Await.until(WAIT, "the ephemeral channel is gone", () -> tailChannels(topic) == 0);
  }

  @Test
  void tailOnATopicWithoutChannelsLeavesTheBacklogForTheFirstDurableChannel() throws Exception {
    String topic = unique("backlog");
    assertEquals(200, http.post("/mpub?topic=" + topic, "m1\nm2\nm3\nm4\nm5\nm6\nm7").status());
    Result r = run(new Tail(), null, "--http", http(), "--topic", topic, "-n", "3");
    assertEquals(0, r.code(), r::toString);
    assertEquals("m1\nm2\nm3\n", r.out(), r::toString);
    Await.until(WAIT, "the ephemeral channel is gone", () -> tailChannels(topic) == 0);
    assertEquals(7, topicStats(topic).path("depth").asInt(), "all seven still kept for a first channel");
    // The first durable channel gets all seven, not the four the tail left.
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=first")) {
      c.send("RDY 10");
      List<String> bodies = new ArrayList<>();
      for (WsConsumer.Frame f : c.messages(7, WAIT)) bodies.add(f.json().path("body").asText());
      assertEquals(List.of("m1", "m2", "m3", "m4", "m5", "m6", "m7"), bodies);
    }
  }

  @Test
  void tailFromEarliestPrintsWhatTheTopicRetains() throws Exception {
    String topic = unique("earliest");
    http.createChannel(topic, "c");
    assertEquals(200, http.post("/mpub?topic=" + topic, "r1\nr2\nr3").status());
    Result r = run(new Tail(), null, "--http", http(), "--topic", topic, "--from", "earliest", "-n", "3");
    assertEquals(0, r.code(), r::toString);
    assertEquals("r1\nr2\nr3\n", r.out(), r::toString);
    assertEquals(2, run(new Tail(), null, "--http", http(), "--topic", topic, "--from", "yesterday").code());
  }

  private static int tailChannels(String topic) throws Exception {
    JsonNode t = topicStats(topic);
    if (t == null) return 0;
    int n = 0;
    for (JsonNode c : t.path("channels")) {
      String name = c.path("channel_name").asText();
      if (name.startsWith("tail") && name.endsWith("#ephemeral")) n++;
    }
    return n;
  }

  // ---- stat -----------------------------------------------------------------------------------------

  @Test
  void statPrintsRowsWithTheDepth() throws Exception {
    String topic = unique("stat");
    assertEquals(200, http.post("/topic/create?topic=" + topic, "").status());
    assertEquals(200, http.post("/channel/create?topic=" + topic + "&channel=c", "").status());
    assertEquals(200, http.post("/mpub?topic=" + topic, "1\n2\n3\n4").status());

    Result r = run(new Stat(), null, "--http", http(), "--topic", topic, "--channel", "c", "--count", "3", "--interval", "100ms");
    assertEquals(0, r.code(), r::toString);
    List<String[]> rows = rows(r.out());
    assertEquals(3, rows.size(), r::toString);
    for (String[] row : rows) {
      assertEquals("4", row[1], () -> "depth: " + r);
      assertEquals("0", row[2], () -> "in flight: " + r);
      assertEquals("4", row[6], () -> "messages: " + r);
    }
    assertEquals("-", rows.get(0)[7], "no rate in the first row");
    assertEquals("0", rows.get(2)[7], "nothing published meanwhile");

    Result all = run(new Stat(), null, "--http", http(), "--topic", topic, "--count", "1");
    assertEquals(0, all.code(), all::toString);
    assertEquals("4", rows(all.out()).get(0)[1], all::toString);

    Result missing = run(new Stat(), null, "--http", http(), "--topic", topic, "--channel", "nope", "--count", "1");
    assertTrue(missing.out().contains("has no channel nope"), missing::toString);
  }

  private static List<String[]> rows(String out) {
    List<String[]> rows = new ArrayList<>();
    for (String line : out.split("\n")) {
      if (line.isBlank() || line.startsWith("time")) continue;
      rows.add(line.trim().split("\\s+"));
    }
    return rows;
  }

  // ---- to-file --------------------------------------------------------------------------------------

  @Test
  void toFileWritesExactlyThePublishedMessagesAndFinsThem() throws Exception {
    String topic = unique("tofile");
    assertEquals(200, http.post("/mpub?topic=" + topic, lines(1, 40)).status());
    Path dir = files.resolve(topic);
    // The channel is the topic's first, so it starts from the 40 the topic kept; 100 bytes make several files.
    Result r = run(new ToFile(), null, "--http", http(), "--topic", topic, "--output-dir", dir.toString(), "-n", "40",
        "--max-bytes", "100");
    assertEquals(0, r.code(), r::toString);
    List<Path> written = list(dir);
    assertTrue(written.size() >= 4, "rotated by size: " + written);
    List<String> got = new ArrayList<>();
    for (Path f : written) {
      assertTrue(Files.size(f) <= 100, f + " is " + Files.size(f) + " bytes");
      got.addAll(Files.readAllLines(f));
    }
    assertEquals(lines(1, 40).lines().sorted().toList(), got.stream().sorted().toList());
    awaitDrained(topic, "to-file");
  }

  @Test
  void toFileGzip() throws Exception {
    String topic = unique("tofilegz");
    assertEquals(200, http.post("/mpub?topic=" + topic, lines(1, 25)).status());
    Path dir = files.resolve(topic);
    Result r = run(new ToFile(), null, "--http", http(), "--topic", topic, "--channel", "archive",
        "--output-dir", dir.toString(), "-n", "25", "--gzip");
    assertEquals(0, r.code(), r::toString);
    List<Path> written = list(dir);
    assertEquals(1, written.size(), written::toString);
    assertTrue(written.get(0).getFileName().toString().matches(topic.replace("-", "\\-") + "\\.\\d{8}-\\d{6}\\.1\\.log\\.gz"), written::toString);
    String text;
    try (InputStream in = new GZIPInputStream(Files.newInputStream(written.get(0)))) {
      text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertEquals(lines(1, 25).lines().sorted().toList(), text.lines().sorted().toList());
    awaitDrained(topic, "archive");
  }

  private static List<Path> list(Path dir) throws Exception {
    try (var s = Files.list(dir)) {
      return s.sorted().toList();
    }
  }

  /** Every message FINed: nothing left ready, in flight or deferred, once the tool is gone. */
  private static void awaitDrained(String topic, String channel) throws Exception {
    Await.until(WAIT, channel + " of " + topic + " drained", () -> {
      JsonNode c = http.channelStats(topic, channel);
      return c != null && c.path("client_count").asInt() == 0 && c.path("depth").asInt() == 0
          && c.path("in_flight_count").asInt() == 0 && c.path("deferred_count").asInt() == 0;
    });
  }

  // ---- an unreachable node ------------------------------------------------------------------------

  @Test
  void everyToolSaysSoWhenTheNodeCannotBeReached() throws Exception {
    try (java.net.Socket refusing = NodeProcess.refusingPort()) {
      everyToolSaysSoWhenTheNodeCannotBeReached("127.0.0.1:" + refusing.getLocalPort());
    }
  }

  private void everyToolSaysSoWhenTheNodeCannotBeReached(String nowhere) throws Exception {
    String expected = "cannot reach herald at http://" + nowhere + " (connection refused)\n";
    Result pub = run(new Pub(), "x\n", "--http", nowhere, "--topic", "t");
    assertEquals(1, pub.code(), pub::toString);
    assertEquals("pub: " + expected, pub.err(), pub::toString);
    Result tail = run(new Tail(), null, "--http", nowhere, "--topic", "t");
    assertEquals(1, tail.code(), tail::toString);
    assertEquals("tail: " + expected, tail.err(), tail::toString);
    Result stat = run(new Stat(), null, "--http", nowhere, "--topic", "t");
    assertEquals(1, stat.code(), stat::toString);
    assertEquals("stat: " + expected, stat.err(), stat::toString);
    Result toFile = run(new ToFile(), null, "--http", nowhere, "--topic", "t", "--output-dir", files.resolve("none").toString());
    assertEquals(1, toFile.code(), toFile::toString);
    assertEquals("to-file: " + expected, toFile.err(), toFile::toString);
  }

  /** The JDK reports a name that does not resolve as a ConnectException: it read "connection refused". */
  @Test
  void aHostThatDoesNotResolveIsCalledSo() {
    String nowhere = "no-such-host.invalid:4151";
    Result pub = run(new Pub(), "x\n", "--http", nowhere, "--topic", "t");
    assertEquals(1, pub.code(), pub::toString);
    assertEquals("pub: cannot reach herald at http://" + nowhere + " (unknown host)\n", pub.err(), pub::toString);
    Result tail = run(new Tail(), null, "--http", nowhere, "--topic", "t");
    assertEquals(1, tail.code(), tail::toString);
    assertEquals("tail: cannot reach herald at http://" + nowhere + " (unknown host)\n", tail.err(), tail::toString);
  }

  /** A file's exception says only its path: "cannot write to X: X" told nothing. */
  @Test
  void toFileSaysWhyItCannotWrite() throws Exception {
    Path file = Files.writeString(files.resolve(unique("in-the-way")), "a file");
    Result r = run(new ToFile(), null, "--http", http(), "--topic", unique("tofile-dir"), "--output-dir", file.toString(), "-n", "1");
    assertEquals(1, r.code(), r::toString);
    assertEquals("to-file: cannot write to " + file + ": a file of that name exists\n", r.err(), r::toString);
  }

  @Test
  void theToolsAreSubcommandsOfHeraldJar() throws Exception {
    String topic = unique("child");
    Process p = new ProcessBuilder(NodeProcess.command("pub", "--http", http(), "--topic", topic)).start();
    p.getOutputStream().write("a\nb\n".getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    assertTrue(p.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "pub exits at the end of its input");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), out + new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    assertEquals("published 2 messages to " + topic + "\n", out);

    Process bad;
    try (java.net.Socket refusing = NodeProcess.refusingPort()) {
      bad = new ProcessBuilder(NodeProcess.command("stat", "--http", "127.0.0.1:" + refusing.getLocalPort(), "--topic", topic))
          .redirectErrorStream(true).start();
      assertTrue(bad.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS));
    }
    assertEquals(1, bad.exitValue());
    assertTrue(new String(bad.getInputStream().readAllBytes(), StandardCharsets.UTF_8).contains("stat: cannot reach herald at"));
  }
}
