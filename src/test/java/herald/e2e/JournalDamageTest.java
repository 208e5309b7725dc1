package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import herald.broker.MessagesAppendedSerializer;
import herald.node.JournalKey;
import org.apache.pekko.persistence.serialization.MessageFormats;
import org.fusesource.leveldbjni.JniDBFactory;
import org.iq80.leveldb.DB;
import org.iq80.leveldb.DBIterator;
import org.iq80.leveldb.Options;
import org.iq80.leveldb.WriteOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A damaged LevelDB journal, as issue 9 found it: a node that started healthy with acknowledged
 * messages gone. Now the start stops with one line naming the damage and what it costs, and
 * --journal-repair keeps the rest and reports exactly what was lost; a drain finds every message
 * the report does not name.
 */
class JournalDamageTest {
  private static final int BATCHES = 80;
  private static final int PER_BATCH = 100;
  private static final int MESSAGES = BATCHES * PER_BATCH;
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final Pattern LOST = Pattern.compile("topic d: positions (\\d+)-(\\d+), (\\d+) messages");

  @TempDir
  static Path shared;
  static Path pristine;

  @TempDir
  Path data;

  /**
   * 8,000 messages of ~700 bytes on topic d (channel c): more than a 4 MB memtable, so a table file
   * and a log. The node's own memtable is larger (persistence.conf), so this one is set to 4 MB.
   */
  @BeforeAll
  static void publish() throws Exception {
    pristine = shared.resolve("pristine");
    try (NodeProcess node = NodeProcess.prepare(pristine)
        .withJvmOption("-Dpekko.persistence.journal.leveldb.write-buffer-size=4MiB")) {
      node.launch();
      node.http().createChannel("d", "c");
      java.util.Random random = new java.util.Random(9);
      for (int b = 0; b < BATCHES; b++) {
        StringBuilder body = new StringBuilder();
        for (int i = 0; i < PER_BATCH; i++) {
          body.append(b * PER_BATCH + i).append(' ');
          for (int k = 0; k < 700; k++) body.append((char) ('a' + random.nextInt(26)));
          body.append('\n');
        }
        assertEquals(200, node.http().post("/mpub?topic=d", body.toString()).status());
      }
      node.kill();
    }
  }

  private Path copy() throws Exception {
    Path dir = data.resolve("node");
    try (Stream<Path> files = Files.walk(pristine)) {
      for (Path p : files.toList()) {
        Path to = dir.resolve(pristine.relativize(p).toString());
        if (Files.isDirectory(p)) Files.createDirectories(to);
        else if (!p.getFileName().toString().equals("herald.lock")) Files.copy(p, to);
      }
    }
    return dir;
  }

  private static Path file(Path dir, String suffix) throws Exception {
    try (Stream<Path> files = Files.list(dir.resolve("journal"))) {
      return files.filter(p -> p.getFileName().toString().endsWith(suffix) || p.getFileName().toString().startsWith(suffix))
          .findFirst().orElseThrow();
    }
  }

  private static void overwrite(Path file, long at, byte[] bytes) throws Exception {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(at);
      f.write(bytes);
    }
  }

  /** Starting without --journal-repair: the process exits with one line naming the damage. */
  private static String refused(Path dir, String... names) throws Exception {
    NodeStartupTest.Run r = NodeStartupTest.run("--http-address", "127.0.0.1:0", "--data-path", dir.toString());
    assertNotEquals(0, r.exit(), r.output());
    List<String> lines = NodeStartupTest.lines(r.output()).stream().filter(l -> !l.contains(" INFO ")).toList();
    assertEquals(1, lines.size(), r.output());
    String line = lines.get(0);
    assertTrue(line.startsWith("herald: journal damaged: "), line);
    for (String n : names) assertTrue(line.contains(n), n + " named in: " + line);
    assertTrue(line.contains("start with --journal-repair"), line);
    return line;
  }

  /** The message numbers a drain of channel c finds. */
  private static Set<Integer> drain(NodeProcess node, int expected) throws Exception {
    Set<Integer> seen = new HashSet<>();
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=d&channel=c")) {
      c.send("RDY 500");
      while (seen.size() < expected) {
        WsConsumer.Frame f = c.messages(1, WAIT).get(0);
        String body = f.json().path("body").asText();
        seen.add(Integer.parseInt(body.substring(0, body.indexOf(' '))));
        c.send("FIN " + f.json().path("id").asText());
      }
      // Nothing beyond: the depth is 0 once the expected number is in.
      JsonNode stats = node.http().channelStats("d", "c");
      assertEquals(0, stats.path("depth").asInt(), stats.toString());
    }
    return seen;
  }

  /** Refused, then repaired: the report names positions from..to; the drain finds everything else. */
  private void refusedThenRepairedLosingExactly(Path dir, String damagedFile, boolean restart) throws Exception {
    String line = refused(dir, damagedFile, "topic d", "messages lost");
    Matcher m = LOST.matcher(line);
    assertTrue(m.find(), line);
    int from = Integer.parseInt(m.group(1));
    int to = Integer.parseInt(m.group(2));
    assertEquals(to - from + 1, Integer.parseInt(m.group(3)));
    assertTrue(!m.find(), "one loss: " + line);

    try (NodeProcess node = NodeProcess.start(dir, "--journal-repair")) {
      String health = node.http().get("/stats?format=json").json().path("health").asText();
      assertTrue(health.startsWith("NOK - journal repaired"), health);
      assertTrue(health.contains("topic d: positions " + from + "-" + to + ", " + (to - from + 1) + " messages"), health);
      Set<Integer> seen = drain(node, MESSAGES - (to - from + 1));
      for (int i = 0; i < MESSAGES; i++) assertEquals(i < from || i > to, seen.contains(i), "message " + i);
    }
    if (!restart) return;
    // Once repaired, the reported loss is known: the next start is clean.
    try (NodeProcess node = NodeProcess.start(dir)) {
      assertEquals("OK", node.http().get("/stats?format=json").json().path("health").asText());
    }
  }

  @Test
  void bytesFlippedInATable() throws Exception {
    Path dir = copy();
    Path table = file(dir, ".sst");
    overwrite(table, Files.size(table) / 2, new byte[] {(byte) 0xff, (byte) 0xfe, (byte) 0xfd, (byte) 0xfc});
    refusedThenRepairedLosingExactly(dir, table.getFileName().toString(), true);
  }

  @Test
  void aBlockZeroedInATable() throws Exception {
    Path dir = copy();
    Path table = file(dir, ".sst");
    overwrite(table, Files.size(table) / 3 / 4096 * 4096, new byte[4096]);
    refusedThenRepairedLosingExactly(dir, table.getFileName().toString(), false);
  }

  @Test
  void theNewestLogTruncated() throws Exception {
    Path dir = copy();
    Path log = file(dir, ".log");
    try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "rw")) {
      f.setLength(f.length() / 2 + 1234);
    }
    String line = refused(dir, log.getFileName().toString(), "dropping");
    try (NodeProcess node = NodeProcess.start(dir, "--journal-repair")) {
      String health = node.http().get("/stats?format=json").json().path("health").asText();
      assertTrue(health.startsWith("NOK - journal repaired") && health.contains("dropping"), health);
      // The cut-off writes held the last messages; what is left is a prefix with no hole.
      // /stats starts nothing: create (idempotent) starts the topic so it reports its count.
      assertEquals(200, node.http().post("/topic/create?topic=d", "").status());
      Await.until(WAIT, "topic d reported running", () ->
          node.http().stats("d", null).path("topics").get(0).path("running").asBoolean());
      int left = node.http().stats("d", null).path("topics").get(0).path("message_count").asInt();
      assertTrue(left > 0 && left < MESSAGES, left + " left; " + line);
      Set<Integer> seen = drain(node, left);
      for (int i = 0; i < left; i++) assertTrue(seen.contains(i), "message " + i);
    }
  }

  /**
   * A topic's write gone without any read error (a hole in its sequence numbers, as a lost table
   * would leave): found by the keys alone, and the offsets the repair loses come from its neighbours.
   */
  @Test
  void aTopicWriteMissingWithoutAReadError() throws Exception {
    Path dir = copy();
    try (DB db = JniDBFactory.factory.open(dir.resolve("journal").toFile(), new Options().createIfMissing(false))) {
      int topic = -1;
      List<byte[]> appends = new ArrayList<>();
      int appended = new MessagesAppendedSerializer().identifier();
      try (DBIterator it = db.iterator()) {
        // The id table sorts first: the topic's number is known before its writes come.
        for (it.seekToFirst(); it.hasNext(); it.next()) {
          Map.Entry<byte[], byte[]> e = it.peekNext();
          JournalKey k = JournalKey.read(e.getKey());
          if (k.isIdTableEntry() && new String(e.getValue(), StandardCharsets.UTF_8).equals("t|d")) topic = k.mappingId();
          if (k.persistenceId() == topic && k.isEvent()
              && MessageFormats.PersistentMessage.parseFrom(e.getValue()).getPayload().getSerializerId() == appended) {
            appends.add(e.getKey());
          }
        }
      }
      assertTrue(appends.size() > 2, appends.size() + " appends");
      db.delete(appends.get(appends.size() / 2), new WriteOptions().sync(true));
    }
    refusedThenRepairedLosingExactly(dir, "d has no journal writes", true);
  }

  /**
   * The CURRENT file (which names the manifest) gone. Before, the check took the journal for one
   * that was never made: LevelDB made a new empty one, replayed the logs into it and deleted the
   * old tables, and the node started healthy without the acknowledged messages (tried by hand:
   * 24,000 published, about two thirds in the table that went). Refused with one line naming it;
   * LevelDB's repairer then finds every table and log.
   */
  @Test
  void aMissingCurrentFileIsNamed() throws Exception {
    Path dir = copy();
    Path current = dir.resolve("journal").resolve("CURRENT");
    Files.delete(current);
    refused(dir, current.toString());
    try (NodeProcess node = NodeProcess.start(dir, "--journal-repair")) {
      assertTrue(node.http().get("/stats?format=json").json().path("health").asText().contains("CURRENT"));
      Set<Integer> seen = drain(node, MESSAGES);
      assertEquals(MESSAGES, seen.size());
    }
  }

  /**
   * The oldest table gone, and with it the id table that names the journal's ids: the topic's
   * writes left in the log are kept under no name, out of reach. Before, the report said "no
   * acknowledged message found missing" and, repaired, the node started without topic d at all
   * (tried by hand: 24,000 acknowledged, none reported). Now those writes' messages are reported
   * lost, with the warning that any before them are too.
   */
  @Test
  void aLostTableWithTheTopicsNameIsReported() throws Exception {
    Path dir = copy();
    Path table = file(dir, ".sst");
    Files.delete(table);
    String line = refused(dir, table.getFileName().toString(), "messages lost");
    Matcher m = Pattern.compile("topic #\\d+ \\(its name was in the damaged part, and so were any messages before these\\): "
        + "positions (\\d+)-(\\d+), (\\d+) messages").matcher(line);
    assertTrue(m.find(), line);
    assertEquals(MESSAGES - 1, Integer.parseInt(m.group(2)), line);
    try (NodeProcess node = NodeProcess.start(dir, "--journal-repair")) {
      String health = node.http().get("/stats?format=json").json().path("health").asText();
      assertTrue(health.contains(m.group(3) + " messages lost") || health.contains(m.group(0)), health);
    }
  }

  /**
   * Refused with one line naming the manifest. Before the check, such a start ended after 75 s with
   * "Ask timed out", which names no file: that line is the difference, so it is not timed here.
   */
  @Test
  void aDamagedManifestIsNamed() throws Exception {
    Path dir = copy();
    Path manifest = file(dir, "MANIFEST-");
    overwrite(manifest, 10, "garbage".getBytes(StandardCharsets.US_ASCII));
    refused(dir, manifest.getFileName().toString(), "Corruption");
    try (NodeProcess node = NodeProcess.start(dir, "--journal-repair")) {
      assertTrue(node.http().get("/stats?format=json").json().path("health").asText().contains("MANIFEST"));
      Set<Integer> seen = drain(node, MESSAGES);
      assertEquals(MESSAGES, seen.size());
    }
  }
}
