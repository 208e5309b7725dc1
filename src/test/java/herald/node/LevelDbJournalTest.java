package herald.node;

import com.typesafe.config.ConfigFactory;
import herald.e2e.Await;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.Persistence;
import org.apache.pekko.persistence.PersistentEnvelope;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.PersistentRepr$;
import org.fusesource.leveldbjni.JniDBFactory;
import org.iq80.leveldb.DB;
import org.iq80.leveldb.Options;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.jdk.javaapi.CollectionConverters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Herald's LevelDB plugin writes no per-entity counter key with each write (LevelDbJournal): an
 * entity's highest sequence number must still come back right after writes, after deletions (all
 * of its messages, or some), across a restart, beside other entities, and from a journal Pekko's
 * own plugin wrote. And the files LevelDB deletes are freed (JournalTrash).
 */
class LevelDbJournalTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  // About 1 KB an event: a few hundred fill several of the smallest memtables LevelDB takes (64 KiB).
  private static final String FILLER = " " + "x".repeat(1000);
  @TempDir
  Path dir;
  private ActorTestKit testKit;
  private ActorRef journal;
  private TestProbe<Object> probe;

  @AfterEach
  void stop() {
    if (testKit != null) testKit.shutdownTestKit();
  }

  private void start(String pluginClass, String... config) {
    if (testKit != null) testKit.shutdownTestKit();
    testKit = ActorTestKit.create("journal-test", ConfigFactory.parseString(String.join("\n", config))
        .withFallback(ConfigFactory.parseString(String.join("\n",
            "pekko.actor.provider = local",
            "pekko.persistence.journal.leveldb.class = \"" + pluginClass + "\"",
            "pekko.persistence.journal.leveldb.dir = \"" + dir.resolve("journal") + "\"")))
        .withFallback(ConfigFactory.load()));
    journal = Persistence.get(Adapter.toClassic(testKit.system())).journalFor("", ConfigFactory.empty());
    probe = testKit.createTestProbe();
  }

  private void start() {
    start(LevelDbJournal.class.getName());
  }

  private void write(String id, long from, long to) {
    List<PersistentEnvelope> writes = new ArrayList<>();
    for (long seq = from; seq <= to; seq++) {
      writes.add(AtomicWrite.apply(PersistentRepr$.MODULE$.apply(payload(seq), seq, id, "", false, ActorRef.noSender(), "writer")));
    }
    journal.tell(new JournalProtocol.WriteMessages(CollectionConverters.asScala(writes).toList(), Adapter.toClassic(probe.ref()), 1),
        ActorRef.noSender());
    probe.expectMessageClass(JournalProtocol.WriteMessagesSuccessful$.class, WAIT);
    for (long seq = from; seq <= to; seq++) probe.expectMessageClass(JournalProtocol.WriteMessageSuccess.class, WAIT);
  }

  private static String payload(long seq) {
    return "event " + seq + FILLER;
  }

  private void delete(String id, long to) {
    journal.tell(new JournalProtocol.DeleteMessagesTo(id, to, Adapter.toClassic(probe.ref())), ActorRef.noSender());
    probe.expectMessageClass(org.apache.pekko.persistence.DeleteMessagesSuccess.class, WAIT);
  }

  /** The sequence numbers replayed from 1, and the highest sequence number the journal reports. */
  private record Replay(List<Long> replayed, long highest) {}

  private Replay replay(String id) {
    journal.tell(new JournalProtocol.ReplayMessages(1, Long.MAX_VALUE, Long.MAX_VALUE, id, Adapter.toClassic(probe.ref())),
        ActorRef.noSender());
    List<Long> replayed = new ArrayList<>();
    while (true) {
      Object m = probe.receiveMessage(WAIT);
      if (m instanceof JournalProtocol.ReplayedMessage r) {
        PersistentRepr p = r.persistent();
        assertEquals(payload(p.sequenceNr()), p.payload());
        replayed.add(p.sequenceNr());
      } else {
        return new Replay(replayed, assertInstanceOf(JournalProtocol.RecoverySuccess.class, m).highestSequenceNr());
      }
    }
  }

  private static List<Long> range(long from, long to) {
    return LongStream.rangeClosed(from, to).boxed().toList();
  }

  @Test
  void theHighestSequenceNumberComesFromTheLastWriteAndSurvivesARestart() {
    start();
    assertEquals(new Replay(List.of(), 0), replay("t-a"));
    write("t-a", 1, 3);
    write("t-b", 1, 7);
    write("t-a", 4, 5);
    // A later entity (a higher numeric id) beside it must not be taken for its last key, nor an earlier one.
    write("t-c", 1, 2);
    assertEquals(new Replay(range(1, 5), 5), replay("t-a"));
    assertEquals(new Replay(range(1, 7), 7), replay("t-b"));
    assertEquals(new Replay(range(1, 2), 2), replay("t-c"));

    start();
    assertEquals(new Replay(range(1, 5), 5), replay("t-a"));
    assertEquals(new Replay(range(1, 2), 2), replay("t-c"));
    write("t-a", 6, 6);
    assertEquals(new Replay(range(1, 6), 6), replay("t-a"));
  }

  @Test
  void deletingEveryMessageKeepsTheHighestSequenceNumber() {
    start();
    write("t-a", 1, 5);
    write("t-b", 1, 3);
    delete("t-a", 3);
    assertEquals(new Replay(range(4, 5), 5), replay("t-a"));
    delete("t-a", 5);
    assertEquals(new Replay(List.of(), 5), replay("t-a"));
    // Deleting beyond the last message too.
    delete("t-b", 100);
    assertEquals(new Replay(List.of(), 3), replay("t-b"));

    start();
    assertEquals(new Replay(List.of(), 5), replay("t-a"));
    assertEquals(new Replay(List.of(), 3), replay("t-b"));
    write("t-a", 6, 7);
    assertEquals(new Replay(range(6, 7), 7), replay("t-a"));
  }

  @Test
  void aJournalPekkosPluginWroteReadsTheSame() {
    start("org.apache.pekko.persistence.journal.leveldb.LeveldbJournal");
    write("t-a", 1, 4);
    write("t-b", 1, 6);
    delete("t-b", 6);

    start();
    assertEquals(new Replay(range(1, 4), 4), replay("t-a"));
    assertEquals(new Replay(List.of(), 6), replay("t-b"));
    write("t-a", 5, 5);
    write("t-b", 7, 7);
    assertEquals(new Replay(range(1, 5), 5), replay("t-a"));
    assertEquals(new Replay(List.of(7L), 7), replay("t-b"));
  }

  @Test
  void writesPutNoCounterKey() throws Exception {
    start();
    write("t-a", 1, 3);
    delete("t-a", 1);
    testKit.shutdownTestKit();
    testKit = null;
    // Pekko's counter key of an entity is (numeric id, sequence number 0, 0); numeric ids start at 10.
    try (DB db = JniDBFactory.factory.open(dir.resolve("journal").toFile(), new Options())) {
      List<Integer> counters = new ArrayList<>();
      try (var it = db.iterator()) {
        for (it.seekToFirst(); it.hasNext(); ) {
          JournalKey key = JournalKey.read(it.next().getKey());
          if (key.persistenceId() >= 10 && key.sequenceNr() == 0L) counters.add(key.persistenceId());
        }
      }
      assertEquals(List.of(), counters);
    }
    start();
    assertEquals(new Replay(range(2, 3), 3), replay("t-a"));
  }

  @Test
  void theFilesLevelDbDeletesAreFreed() throws Exception {
    // A 64 KiB memtable: the writes below fill several, each written out as a table and its log deleted.
    start(LevelDbJournal.class.getName(), "pekko.persistence.journal.leveldb.write-buffer-size = 64KiB");
    for (long seq = 1; seq <= 400; seq += 20) write("t-a", seq, seq + 19);
    Path journalDir = dir.resolve("journal");
    Path trash = journalDir.resolve("trash");
    // Every log and table LevelDB keeps gets its second name in trash (the watch's thread links it)...
    List<Path> kept = files(journalDir);
    assertTrue(kept.stream().anyMatch(p -> p.toString().endsWith(".sst")), "tables written: " + kept);
    Await.until(WAIT, "every file LevelDB keeps to have a second name", () -> {
      for (Path p : files(journalDir)) {
        try {
          if ((Integer) Files.getAttribute(p, "unix:nlink") != 2) return false;
        } catch (NoSuchFileException e) {
          // LevelDB deleted it after the listing (a compaction still running): not one it keeps.
        }
      }
      return true;
    });
    // ...and LevelDB deleted the logs before the current one (their numbers are lower), which trash freed.
    long current = kept.stream().filter(p -> p.toString().endsWith(".log")).mapToLong(LevelDbJournalTest::number).max().orElseThrow();
    assertTrue(current > 3, "logs were switched: " + kept);
    Await.until(WAIT, "trash to hold only what LevelDB keeps", () -> {
      for (Path p : files(trash)) {
        if (!Files.exists(journalDir.resolve(p.getFileName()))) return false;
      }
      return true;
    });
    assertEquals(new Replay(range(1, 400), 400), replay("t-a"));
  }

  /**
   * Where no second name can be made, JournalTrash stands aside and LevelDB frees what it deletes
   * itself, as before it: the journal works, trash holds nothing, a restart over the files left
   * opens too. A file system without hard links refuses link(2); here the kernel refuses it (EXDEV)
   * because trash/ is a tmpfs this test mounts (as root, as CI runs) inside the journal's directory.
   */
  @Test
  void whereNoSecondNameCanBeMadeLevelDbFreesWhatItDeletesAsBefore() throws Exception {
    Path journalDir = dir.resolve("journal");
    Path trash = journalDir.resolve("trash");
    Files.createDirectories(trash);
    String refused = mount("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", trash.toString());
    Assumptions.assumeTrue(refused == null, () -> "mounting a tmpfs needs root with CAP_SYS_ADMIN (CI has it); skipped: " + refused);
    try {
      String smallMemtable = "pekko.persistence.journal.leveldb.write-buffer-size = 64KiB";
      start(LevelDbJournal.class.getName(), smallMemtable);
      for (long seq = 1; seq <= 400; seq += 20) write("t-a", seq, seq + 19);
      List<Path> kept = files(journalDir);
      long current = kept.stream().filter(p -> p.toString().endsWith(".log")).mapToLong(LevelDbJournalTest::number).max().orElseThrow();
      assertTrue(current > 3, "logs were switched (and the old ones deleted): " + kept);
      assertEquals(List.of(), files(trash), "no second names");
      for (Path p : files(journalDir)) {
        try {
          assertEquals(1, (Integer) Files.getAttribute(p, "unix:nlink"), p + ": its one name is LevelDB's, which frees it");
        } catch (NoSuchFileException e) {
          // deleted by a compaction after the listing
        }
      }
      assertEquals(new Replay(range(1, 400), 400), replay("t-a"));

      // A restart finds files already there, which cannot get second names either.
      start(LevelDbJournal.class.getName(), smallMemtable);
      for (long seq = 401; seq <= 600; seq += 20) write("t-a", seq, seq + 19);
      assertEquals(List.of(), files(trash));
      assertEquals(new Replay(range(1, 600), 600), replay("t-a"));
    } finally {
      if (testKit != null) testKit.shutdownTestKit();
      testKit = null;
      assertEquals(null, mount("umount", "-l", trash.toString()));
    }
  }

  /** Runs mount or umount: null when it succeeded, else what it said. */
  private static String mount(String... cmd) throws Exception {
    Process p;
    try {
      p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    } catch (IOException e) {
      return String.join(" ", cmd) + ": " + e.getMessage();
    }
    assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), String.join(" ", cmd));
    String said = new String(p.getInputStream().readAllBytes()).trim();
    return p.exitValue() == 0 ? null : String.join(" ", cmd) + " exited " + p.exitValue() + ": " + said;
  }

  private static List<Path> files(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.toString().endsWith(".log") || p.toString().endsWith(".sst")).toList();
    }
  }

  private static long number(Path p) {
    String n = p.getFileName().toString();
    return Long.parseLong(n.substring(0, n.indexOf('.')));
  }
}
