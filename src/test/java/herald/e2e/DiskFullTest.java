package herald.e2e;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A node whose disk fills, on a real small file system (a tmpfs this test mounts; CI runs as
 * root). Before, every publish was answered 200 until the JVM died of SIGBUS in LevelDB. Now
 * publishes are refused with 507 E_DISK_FULL below --min-free-space, consumers and FINs go on,
 * publishing resumes by itself when space returns, and a drain with the disk below the limit finds
 * every acknowledged message. After a SIGKILL, a restart with less room than LevelDB may write
 * while it opens is refused with one line (before, it died of SIGBUS inside LevelDB's open); with
 * that room, below the limit, it starts, refuses publishes and serves a drain.
 */
class DiskFullTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final long MB = 1 << 20;

  @TempDir
  Path tmp;
  Path fs;

  @BeforeEach
  void mount() throws Exception {
    Path dir = tmp.resolve("fs");
    Files.createDirectories(dir);
    Process p;
    try {
      p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", dir.toString()).redirectErrorStream(true).start();
    } catch (IOException e) {
      Assumptions.abort("no mount command: " + e.getMessage());
      return;
    }
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "mount");
    String said = new String(p.getInputStream().readAllBytes()).trim();
    // Root with CAP_SYS_ADMIN (as CI runs) may mount; elsewhere this is skipped.
    Assumptions.assumeTrue(p.exitValue() == 0, () -> "mounting a small tmpfs needs root with CAP_SYS_ADMIN; skipped: " + said);
    fs = dir;
  }

  @AfterEach
  void unmount() throws Exception {
    if (fs != null) run("umount", "-l", fs.toString());
  }

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), String.join(" ", cmd));
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + new String(p.getInputStream().readAllBytes()));
  }

  /** A file of this many bytes, really allocated (tmpfs has no holes for written pages). */
  private static void ballast(Path file, long bytes) throws IOException {
    byte[] chunk = new byte[(int) MB];
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      for (long done = 0; done < bytes; done += chunk.length) f.write(chunk, 0, (int) Math.min(chunk.length, bytes - done));
    }
  }

  /** Messages "N <1,000 random letters>": LevelDB compresses, so the bodies must not. */
  /** Grows the ballast until at most {@code free} bytes are left on the tmpfs. */
  private void fillTo(Path ballast, long free) throws IOException {
    long now = Files.getFileStore(fs).getUsableSpace();
    if (now <= free) return;
    byte[] chunk = new byte[(int) MB];
    try (RandomAccessFile f = new RandomAccessFile(ballast.toFile(), "rw")) {
      f.seek(f.length());
      for (long done = 0; done < now - free; done += chunk.length) f.write(chunk, 0, (int) Math.min(chunk.length, now - free - done));
    }
  }

  private static String batch(int first, int n) {
    java.util.Random random = new java.util.Random(first);
    StringBuilder body = new StringBuilder();
    for (int i = first; i < first + n; i++) {
      body.append(i).append(' ');
      for (int k = 0; k < 1000; k++) body.append((char) ('a' + random.nextInt(26)));
      body.append('\n');
    }
    return body.toString();
  }

  /** Publishes batches of 100 until one is refused; returns the next message number. */
  private static int publishUntilRefused(HttpClientHelper http, int next, Set<Integer> acked) throws IOException {
    while (true) {
      HttpClientHelper.Response r = http.post("/mpub?topic=full", batch(next, 100));
      if (r.status() != 200) {
        assertEquals(507, r.status(), r.body());
        assertEquals("E_DISK_FULL", r.code());
        return next + 100;
      }
      for (int i = next; i < next + 100; i++) acked.add(i);
      next += 100;
      assertTrue(next < 200_000, "never refused");
    }
  }

  /** Consumes and FINs channel c of topic "full" until every message numbered in {@code missing} came. */
  private static void drain(NodeProcess node, Set<Integer> missing) throws Exception {
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=full&channel=c")) {
      c.send("RDY 500");
      while (!missing.isEmpty()) {
        WsConsumer.Frame f = c.messages(1, WAIT).get(0);
        String body = f.json().path("body").asText();
        missing.remove(Integer.parseInt(body.substring(0, body.indexOf(' '))));
        c.send("FIN " + f.json().path("id").asText());
      }
    }
  }

  /** One message "N"; an acknowledged one is counted and N moves on. The status. */
  private static int refusedOrAcked(HttpClientHelper http, int[] n, Set<Integer> acked) throws IOException {
    int status = http.post("/pub?topic=full", n[0] + " maybe refused").status();
    if (status == 200) acked.add(n[0]++);
    else assertEquals(507, status);
    return status;
  }

  /** The journal's files and sizes, for the figures in docs/operations.md. */
  private static String listing(Path dir) throws IOException {
    StringBuilder b = new StringBuilder();
    try (var files = Files.list(dir)) {
      for (Path f : files.sorted().toList()) b.append(f.getFileName()).append('=').append(Files.size(f)).append(' ');
    }
    return b.toString().trim();
  }

  private static String health(HttpClientHelper http) throws IOException {
    return http.get("/stats?format=json").json().path("health").asText();
  }

  @Test
  void publishesAreRefusedBeforeTheDiskIsFullAndNothingAcknowledgedIsLost() throws Exception {
    Path data = fs.resolve("node");
    Path ballast = fs.resolve("ballast");
    ballast(ballast, 24 * MB);
    Set<Integer> acked = new HashSet<>();
    Set<Integer> consumed = new HashSet<>();
    try (NodeProcess node = NodeProcess.start(data, "--min-free-space", "40MB")) {
      HttpClientHelper http = node.http();
      http.createChannel("full", "c");
      int first = publishUntilRefused(http, 0, acked);
      // The refusal counts what was admitted since the last measure; the next measure may find a
      // little more room (compactions free space too). Take the file system below the limit, then
      // read what the node says; a publish that still got in is acknowledged and counted.
      String series = "herald_publishes_refused{node=\"" + node.httpAddress() + "\"}";
      int[] n = {first};
      Await.until(WAIT, "the node refuses publishes and reports it", () -> {
        fillTo(ballast, 36 * MB);
        if (refusedOrAcked(http, n, acked) != 507) return false;
        return health(http).startsWith("NOK - disk space low")
            && Double.valueOf(1.0).equals(MetricsTest.samples(http.get("/metrics").body()).get(series));
      });
      int next = n[0];
      // FINs go on from the reserve while publishes are refused (they free space too: the topic
      // deletes what every channel is done with, and publishing may resume during this).
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=full&channel=c")) {
        c.send("RDY 200");
        for (int i = 0; i < 2000; i++) {
          WsConsumer.Frame f = c.messages(1, WAIT).get(0);
          String body = f.json().path("body").asText();
          consumed.add(Integer.parseInt(body.substring(0, body.indexOf(' '))));
          c.send("FIN " + f.json().path("id").asText());
        }
      }

      // Space comes back: publishing resumes by itself.
      Files.delete(ballast);
      Await.until(WAIT, "publishing resumes", () -> http.post("/mpub?topic=full", batch(next, 100)).status() == 200);
      for (int i = next; i < next + 100; i++) acked.add(i);
      assertEquals("OK", health(http));
      assertTrue(node.isAlive());

      // Fill again: refused again; the drain below then runs with the disk below the limit.
      n[0] = publishUntilRefused(http, next + 100, acked);
      Await.until(WAIT, "publishes refused again", () -> {
        fillTo(ballast, 36 * MB);
        return refusedOrAcked(http, n, acked) == 507;
      });
      assertTrue(health(http).startsWith("NOK - disk space low"), health(http));

      // A drain (reads and FINs, all from the reserve) finds every acknowledged message.
      Set<Integer> missing = new HashSet<>(acked);
      missing.removeAll(consumed);
      drain(node, missing);
      assertTrue(node.isAlive());
      assertFalse(node.logTail().contains("SIGBUS"), node.logTail());
    }
  }

  /**
   * A new topic or channel is a journal write that stays (about 2 KB with its registry entries):
   * below the limit they are refused as publishes are, or a client creating channels eats the
   * reserve until LevelDB dies of SIGBUS (seen by hand: with 200 KB left, the 60th /channel/create
   * killed the node, and its journal then needed --journal-repair). What exists is still served.
   */
  @Test
  void newTopicsAndChannelsAreRefusedBelowTheLimitAndWhatExistsIsServed() throws Exception {
    Path data = fs.resolve("node");
    Path ballast = fs.resolve("ballast");
    try (NodeProcess node = NodeProcess.start(data, "--min-free-space", "40MB")) {
      HttpClientHelper http = node.http();
      http.createChannel("full", "c");
      assertEquals(200, http.post("/pub?topic=full", "kept").status());
      // Paused before the disk runs low: unpausing must stay possible, or nothing drains.
      assertEquals(200, http.post("/topic/pause?topic=full", "").status());
      fillTo(ballast, 36 * MB);
      Await.until(WAIT, "publishes refused", () -> http.post("/pub?topic=full", "x").status() == 507);

      HttpClientHelper.Response topic = http.post("/topic/create?topic=brand-new", "");
      assertEquals(507, topic.status(), topic.body());
      assertEquals("E_DISK_FULL", topic.code());
      HttpClientHelper.Response channel = http.post("/channel/create?topic=full&channel=new", "");
      assertEquals(507, channel.status(), channel.body());
      assertEquals("E_DISK_FULL", channel.code());
      try (NsqSocket tcp = new NsqSocket(node.tcpPort())) {
        tcp.identify("{}");
        tcp.send("SUB full new-by-tcp");
        NsqSocket.Frame answer = tcp.next(WAIT);
        assertEquals(1, answer.type(), answer.toString());
        assertTrue(answer.text().startsWith("E_SUB_FAILED") && answer.text().contains("disk space low"), answer.text());
      }
      // An ephemeral channel of a durable topic is named in the topic registry's journal (an entry
      // when it comes, one when it goes): refused too. An ephemeral topic writes nothing at all.
      try (NsqSocket tcp = new NsqSocket(node.tcpPort())) {
        tcp.identify("{}");
        tcp.send("SUB full tail#ephemeral");
        NsqSocket.Frame answer = tcp.next(WAIT);
        assertTrue(answer.type() == 1 && answer.text().startsWith("E_SUB_FAILED"), answer.toString());
      }
      try (NsqSocket tcp = NsqSocket.subscribe(node.tcpPort(), "memory#ephemeral", "c", 1)) {
        tcp.send("NOP");
      }
      // Settings, pause and rewind are writes that stay too (~200 bytes each: 2,000 pauses took
      // 390 KB by hand), however often a client sends them.
      for (String write : new String[] {"/channel/pause?topic=full&channel=c", "/channel/rewind?topic=full&channel=c&to=earliest"}) {
        HttpClientHelper.Response r = http.post(write, "");
        assertEquals(507, r.status(), write + ": " + r.body());
        assertEquals("E_DISK_FULL", r.code(), write);
      }
      for (String[] config : new String[][] {{"/topic/config?topic=full", "{\"dedup_window\": \"1m\"}"},
          {"/channel/config?topic=full&channel=c", "{\"max_attempts\": 3}"}}) {
        HttpClientHelper.Response r = http.post(config[0], config[1]);
        assertEquals(507, r.status(), config[0] + ": " + r.body());
      }
      assertEquals("[\"c\"]", http.get("/channels?topic=full").json().path("channels").toString(), "no channel was made");
      assertFalse(http.get("/topics").body().contains("brand-new"), "no topic was made");

      // Unpausing is how a paused backlog drains and its space comes back: not refused.
      assertEquals(200, http.post("/topic/unpause?topic=full", "").status());
      // What exists is still served: an existing topic and channel answer as before, consumers drain.
      assertEquals(200, http.post("/topic/create?topic=full", "").status());
      assertEquals(200, http.post("/channel/create?topic=full&channel=c", "").status());
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=full&channel=c")) {
        c.send("RDY 1");
        WsConsumer.Frame f = c.messages(1, WAIT).get(0);
        assertEquals("kept", f.json().path("body").asText());
        c.send("FIN " + f.json().path("id").asText());
      }

      // Space comes back: creating works again by itself.
      Files.delete(ballast);
      Await.until(WAIT, "channels are created again", () -> http.post("/channel/create?topic=full&channel=new", "").status() == 200);
      assertTrue(node.isAlive());
    }
  }

  /**
   * Dead letters are publishes the node makes itself: below the limit they wait in their channel
   * (reported in its log, and counted in /stats, /metrics and the console), across a SIGKILL too, and go to the dead-letter topic, each once, when
   * space returns. Before, they were written into the reserve while clients were refused.
   */
  @Test
  void deadLettersWaitForSpaceBelowTheLimitAndNoneIsLost() throws Exception {
    Path data = fs.resolve("node");
    Path ballast = fs.resolve("ballast");
    NodeProcess node = NodeProcess.start(data, "--min-free-space", "40MB");
    try {
      HttpClientHelper http = node.http();
      http.createChannel("full", "c");
      http.createChannel("full.c.dead", "ops");
      assertEquals(200, http.post("/channel/config?topic=full&channel=c", "{\"max_attempts\": 1}").status());
      Set<String> published = new HashSet<>();
      for (int i = 0; i < 20; i++) {
        assertEquals(200, http.post("/pub?topic=full", "poison " + i).status());
        published.add("poison " + i);
      }
      fillTo(ballast, 36 * MB);
      Await.until(WAIT, "publishes refused", () -> http.post("/pub?topic=full.other", "x").status() == 507);

      // Each message fails its one attempt: all twenty are dead letters now, and wait.
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=full&channel=c")) {
        c.send("RDY 20");
        for (WsConsumer.Frame f : c.messages(20, WAIT)) c.send("REQ " + f.json().path("id").asText() + " 0");
        Await.until(WAIT, "the channel says its dead letters wait", () -> node.log().contains("dead letters wait for disk space"));
      }
      assertEquals(0, http.channelStats("full.c.dead", "ops").path("depth").asInt(), "nothing written below the limit");
      assertEquals(0, http.channelStats("full", "c").path("dead_letter_count").asInt());
      // Where a user looks, not only in the log: /stats (JSON and text), /metrics and the console.
      Await.until(WAIT, "/stats counts the twenty waiting", () -> waitingDeadLetters(http) == 20);
      assertEquals(0, http.channelStats("full", "c").path("depth").asInt(), "they are not in the depth");
      assertEquals(0, http.channelStats("full", "c").path("in_flight_count").asInt(), "nor in flight");
      String text = http.get("/stats?topic=full").body();
      assertTrue(text.contains("dead letters: 0 max attempts: 1 to: full.c.dead waiting: 20"), text);
      assertEquals(20.0, waitingInMetrics(node, http));
      try (Browser browser = Browser.start()) {
        browser.driver.get(node.baseUrl() + "/#/topic/full");
        browser.waiting(WAIT).until(d -> Browser.text(d, "tr[data-channel='c'] [data-col='dead_letter_waiting_count']").equals("20 waiting"));
      }

      // Their last attempts are written: after a SIGKILL the channel finds them exhausted again.
      node.kill();
      node.launch();
      Await.until(WAIT, "they wait again after the restart", () -> {
        http.channelStats("full", "c"); // starts the channel
        return node.log().contains("dead letters wait for disk space");
      });
      assertEquals(0, http.channelStats("full.c.dead", "ops").path("depth").asInt());
      Await.until(WAIT, "/stats counts the twenty waiting again", () -> waitingDeadLetters(http) == 20);

      // Space returns: every one of them reaches the dead-letter topic, once.
      Files.delete(ballast);
      Set<String> dead = new HashSet<>();
      try (WsConsumer ops = WsConsumer.subscribe(node, "topic=full.c.dead&channel=ops")) {
        ops.send("RDY 100");
        for (WsConsumer.Frame f : ops.messages(20, WAIT)) {
          assertTrue(dead.add(f.json().path("body").asText()), "twice: " + f.json());
          ops.send("FIN " + f.json().path("id").asText());
        }
        assertEquals(published, dead);
        Await.until(WAIT, "the channel counted them", () -> http.channelStats("full", "c").path("dead_letter_count").asInt() == 20);
        assertEquals(0, waitingDeadLetters(http), "none waits once they are stored");
        assertEquals(0.0, waitingInMetrics(node, http));
        String after = http.get("/stats?topic=full").body();
        assertFalse(after.contains("waiting:"), after);
        assertEquals(0, http.channelStats("full", "c").path("depth").asInt());
        assertEquals(20, http.stats("full.c.dead", null).path("topics").get(0).path("message_count").asInt(),
            "no copy stored twice");
      }
      assertTrue(node.log().contains("dead letters go to full.c.dead again"), node.logTail());
    } finally {
      node.close();
    }
  }

  private static int waitingDeadLetters(HttpClientHelper http) throws Exception {
    return http.channelStats("full", "c").path("dead_letter_waiting_count").asInt(-1);
  }

  private static Double waitingInMetrics(NodeProcess node, HttpClientHelper http) throws Exception {
    Map<String, Double> metrics = MetricsTest.samples(http.get("/metrics").body());
    String key = "herald_channel_dead_letters_waiting{node=\"" + node.httpAddress() + "\",topic=\"full\",channel=\"c\"}";
    assertTrue(metrics.containsKey(key), () -> key + " not in " + metrics.keySet());
    return metrics.get(key);
  }

  @Test
  void aRestartWithLittleSpaceIsRefusedWhereLevelDbCouldDieAndServesConsumersWhereItCannot() throws Exception {
    Path data = fs.resolve("node");
    Path ballast = fs.resolve("ballast");
    Set<Integer> acked = new HashSet<>();
    // A limit above what this journal's open may need: the restart below it is one with little space.
    String[] flags = {"--min-free-space", "60MB"};
    NodeProcess node = NodeProcess.start(data, flags);
    try {
      HttpClientHelper http = node.http();
      http.createChannel("full", "c");
      for (int next = 0; next < 8000; next += 100) {
        assertEquals(200, http.post("/mpub?topic=full", batch(next, 100)).status());
        for (int i = next; i < next + 100; i++) acked.add(i);
      }
      node.kill();
      // 8 MB free: less than LevelDB may write while it opens (its margin alone is 16 MB).
      fillTo(ballast, 8 * MB);
      node.spawn();
      Await.until(WAIT, "the start is refused", () -> !node.isAlive());
      Matcher refusal = Pattern.compile("herald: not enough free space to open the journal: \\d+ bytes free in \\S+, "
          + "LevelDB may write up to (\\d+) bytes while it opens").matcher(node.log());
      assertTrue(refusal.find(), node.logTail());
      assertFalse(node.log().contains("SIGBUS"), node.logTail());
      long needed = Long.parseLong(refusal.group(1));
      System.out.println("DiskFullTest: journal " + listing(data.resolve("journal")) + "; the open may write up to " + needed + " bytes");
      assertTrue(needed < 59 * MB, "this journal's open needs less than the 60 MB limit: " + needed);

      // Just that room (and below the limit): it starts, refuses publishes, serves consumers.
      try (RandomAccessFile f = new RandomAccessFile(ballast.toFile(), "rw")) {
        f.setLength(f.length() - (needed + MB - Files.getFileStore(fs).getUsableSpace()));
      }
      node.launch();
      HttpClientHelper.Response refused = http.post("/pub?topic=full", "after the restart");
      assertEquals(507, refused.status(), refused.body());
      assertEquals("E_DISK_FULL", refused.code());
      drain(node, new HashSet<>(acked));
      assertTrue(node.isAlive());
      assertFalse(node.log().contains("SIGBUS"), node.logTail());
    } finally {
      node.close();
    }
  }
}
