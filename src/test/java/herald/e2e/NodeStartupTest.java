package herald.e2e;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Flags, start-up errors and graceful stop of a real node process. */
class NodeStartupTest {
  /**
   * docs/operations.md: a node exits within about 3 s of SIGTERM plus the hand-over of its entities
   * (measured 1.3-1.5 s for a single node); asserted with a margin for a busy 2-core machine.
   */
  private static final Duration SIGTERM_BOUND = Duration.ofSeconds(6);
  @TempDir
  Path data;

  record Run(int exit, String output) {}

  static Run run(String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of(args));
    // Not nsqd's fixed 4150: other nodes may run on this machine.
    if (!all.contains("--tcp-address")) all.addAll(List.of("--tcp-address", "127.0.0.1:0"));
    Process p = new ProcessBuilder(NodeProcess.command(all.toArray(String[]::new))).redirectErrorStream(true).start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("herald " + String.join(" ", args) + " did not exit");
    }
    return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  /** The lines that are not the JVM's or SLF4J's start-up noise. */
  static List<String> lines(String output) {
    List<String> lines = new ArrayList<>();
    for (String l : output.split("\n")) if (!l.isBlank() && !l.startsWith("SLF4J")) lines.add(l);
    return lines;
  }

  @Test
  void helpListsEveryFlagWithItsDefault() throws Exception {
    Run r = run("--help");
    assertEquals(0, r.exit());
    for (String flag : List.of("--http-address", "--cluster-address", "--data-path", "--msg-timeout", "--max-msg-timeout",
        "--max-req-timeout", "--max-msg-size", "--max-body-size", "--max-rdy-count", "--mem-queue-size")) {
      assertTrue(r.output().contains(flag), flag + " in --help");
    }
    assertTrue(r.output().contains("default: 60s"), r.output());
    assertTrue(r.output().contains("default: 0.0.0.0:4151"), r.output());
  }

  @Test
  void badFlagsGetOneClearLine() throws Exception {
    Run unknown = run("--no-such-flag");
    assertNotEquals(0, unknown.exit());
    assertEquals(1, lines(unknown.output()).size(), unknown.output());
    assertTrue(unknown.output().contains("--no-such-flag"), unknown.output());

    Run duration = run("--msg-timeout", "soon", "--data-path", data.toString());
    assertNotEquals(0, duration.exit());
    assertEquals(1, lines(duration.output()).size(), duration.output());
    assertTrue(duration.output().contains("--msg-timeout"), duration.output());

    Run number = run("--max-rdy-count", "lots", "--data-path", data.toString());
    assertNotEquals(0, number.exit());
    assertTrue(number.output().contains("--max-rdy-count"), number.output());

    Run address = run("--http-address", "nowhere", "--data-path", data.toString());
    assertNotEquals(0, address.exit());
    assertTrue(address.output().contains("--http-address"), address.output());
  }

  @Test
  void portInUseIsRefusedWithTheReason() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
      Run r = run("--http-address", "127.0.0.1:" + taken.getLocalPort(), "--data-path", data.toString());
      assertEquals(1, r.exit(), r.output());
      List<String> lines = lines(r.output());
      assertEquals(1, lines.size(), r.output());
      assertTrue(lines.get(0).contains("http address") && lines.get(0).contains(String.valueOf(taken.getLocalPort())), r.output());
    }
  }

  @Test
  void aClusterOnTheLevelDbJournalIsRefused() throws Exception {
    Run r = run("--journal", "leveldb", "--join", "127.0.0.1:25520", "--data-path", data.toString(),
        "--http-address", "127.0.0.1:0");
    assertEquals(1, r.exit(), r.output());
    List<String> lines = lines(r.output());
    assertEquals(1, lines.size(), r.output());
    assertTrue(lines.get(0).contains("--join needs --journal postgres"), r.output());
    Run badJournal = run("--journal", "mongodb", "--data-path", data.toString());
    assertNotEquals(0, badJournal.exit());
    assertTrue(badJournal.output().contains("--journal must be leveldb or postgres"), badJournal.output());
  }

  @Test
  void anUnreachablePostgresIsRefusedWithTheReason() throws Exception {
    Run r;
    try (java.net.Socket refusing = NodeProcess.refusingPort()) {
      r = run("--journal", "postgres", "--postgres-url", "jdbc:postgresql://127.0.0.1:" + refusing.getLocalPort() + "/herald",
          "--data-path", data.toString(), "--http-address", "127.0.0.1:0");
    }
    assertEquals(1, r.exit(), r.output());
    assertTrue(r.output().contains("cannot use PostgreSQL at jdbc:postgresql://127.0.0.1:"), r.output());
  }

  @Test
  void unusableDataPathIsRefused() throws Exception {
    Path file = Files.writeString(data.resolve("a-file"), "not a directory");
    Run r = run("--http-address", "127.0.0.1:0", "--data-path", file.toString());
    assertEquals(1, r.exit(), r.output());
    // What is wrong, in words: the exception's own message is only the path.
    assertTrue(r.output().contains("herald: data path " + file + " is unusable: a file of that name exists"), r.output());
    Run under = run("--http-address", "127.0.0.1:0", "--data-path", file.resolve("data").toString());
    assertEquals(1, under.exit(), under.output());
    assertTrue(under.output().contains("herald: data path " + file.resolve("data") + " is unusable: Not a directory"), under.output());
  }

  @Test
  void aSecondNodeOnTheSameDataPathIsRefused() throws Exception {
    try (NodeProcess first = NodeProcess.start(data.resolve("shared"))) {
      Run second = run("--http-address", "127.0.0.1:0", "--data-path", data.resolve("shared").toString());
      assertEquals(1, second.exit(), second.output());
      assertTrue(second.output().contains("in use"), second.output());
      assertEquals(200, first.http().get("/ping").status(), "the first node is unharmed");
    }
  }

  @Test
  void sigtermStopsGracefullyReturningInFlightAndKeepingFins() throws Exception {
    NodeProcess node = NodeProcess.start(data.resolve("graceful"));
    try {
      HttpClientHelper http = node.http();
      assertEquals(200, http.post("/mpub?topic=jobs", "done\nheld").status());
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=jobs&channel=workers")) {
        c.send("RDY 2");
        for (WsConsumer.Frame f : c.messages(2, Duration.ofSeconds(15))) {
          // FIN one and keep the other in flight; stop at once, inside the FIN flush window.
          if (f.json().path("body").asText().equals("done")) c.send("FIN " + f.json().path("id").asText());
        }
        Await.until(Duration.ofSeconds(10), "FIN applied",
            () -> http.channelStats("jobs", "workers").path("in_flight_count").asInt() == 1);
        long sigterm = System.nanoTime();
        int exit = node.terminate();
        double seconds = (System.nanoTime() - sigterm) / 1e9;
        System.out.printf("single node: SIGTERM to exit %.1f s%n", seconds);
        assertTrue(exit == 0 || exit == 143, "exit code " + exit + "\n" + node.logTail());
        // The topics and channels stop before the registry; they used to find its shard gone and
        // hold the stop up until Pekko's phase timeout (5-10 s).
        assertTrue(!node.log().contains("Graceful shutdown of shard region timed out"), node.logTail());
        assertTrue(seconds < SIGTERM_BOUND.toSeconds(), "graceful stop took " + seconds + " s\n" + node.logTail());
      }
      node.launch();
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=jobs&channel=workers")) {
        c.send("RDY 5");
        WsConsumer.Frame f = c.messages(1, Duration.ofSeconds(15)).get(0);
        assertEquals("held", f.json().path("body").asText(), "the in-flight message came back");
        c.send("FIN " + f.json().path("id").asText());
        assertNull(c.poll(Duration.ofMillis(700)), "the FINed message was flushed at shutdown, not redelivered");
      }
    } finally {
      node.close();
    }
  }
}
