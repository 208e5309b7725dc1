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
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A node whose disk fills, on a real small file system (a tmpfs this test mounts; CI runs as
 * root). Before, every publish was answered 200 until the JVM died of SIGBUS in LevelDB. Now
 * publishes are refused with 507 E_DISK_FULL below --min-free-space, consumers and FINs go on,
 * publishing resumes by itself when space returns, and a drain with the disk below the limit
 * finds every acknowledged message.
 */
class DiskFullTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final long MB = 1 << 20;

  @TempDir
  Path tmp;
  Path fs;

  @BeforeEach
  void mount() throws Exception {
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
        "mounting a small tmpfs needs root (CI runs as root); skipped as " + System.getProperty("user.name"));
    fs = tmp.resolve("fs");
    Files.createDirectories(fs);
    run("mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", fs.toString());
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
      int next = publishUntilRefused(http, 0, acked);
      // The refusal counts what was admitted since the last measure; the next measure may find a
      // little more room. Take the file system below the limit for good, then read what the node says.
      String series = "herald_publishes_refused{node=\"" + node.httpAddress() + "\"}";
      Await.until(WAIT, "the node reports publishes refused", () -> {
        fillTo(ballast, 36 * MB);  // compactions free space near the limit: keep the disk below it
        return health(http).startsWith("NOK - disk space low")
            && Double.valueOf(1.0).equals(MetricsTest.samples(http.get("/metrics").body()).get(series));
      });
      assertEquals(507, http.post("/pub?topic=full", next + " refused").status());
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
      int after = publishUntilRefused(http, next + 100, acked);
      Await.until(WAIT, "publishes refused again", () -> {
        fillTo(ballast, 36 * MB);
        return http.post("/pub?topic=full", after + " refused").status() == 507;
      });
      // Not tested here yet: a SIGKILL and a restart with ~34 MB free. In the lead's clean-clone
      // run of 2026-12-01 that restart died of SIGBUS in LevelDB (an .sst written through mmap at
      // open): the start-time space check does not cover LevelDB's open-time compaction (issue 9).
      assertTrue(health(http).startsWith("NOK - disk space low"), health(http));

      // A drain (reads and FINs, all from the reserve) finds every acknowledged message.
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=full&channel=c")) {
        c.send("RDY 500");
        Set<Integer> missing = new HashSet<>(acked);
        missing.removeAll(consumed);
        while (!missing.isEmpty()) {
          WsConsumer.Frame f = c.messages(1, WAIT).get(0);
          String body = f.json().path("body").asText();
          missing.remove(Integer.parseInt(body.substring(0, body.indexOf(' '))));
          c.send("FIN " + f.json().path("id").asText());
        }
      }
      assertTrue(node.isAlive());
      assertFalse(node.logTail().contains("SIGBUS"), node.logTail());
    }
  }
}
