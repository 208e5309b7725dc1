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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.jdk.javaapi.CollectionConverters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Herald's LevelDB plugin: the files LevelDB deletes are freed (JournalTrash). */
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
  void theFilesLevelDbDeletesAreFreed() throws Exception {
    // A 64 KiB memtable: the writes below fill several, each written out as a table and its log deleted.
    start(LevelDbJournal.class.getName(), "pekko.persistence.journal.leveldb.write-buffer-size = 64KiB");
    for (long seq = 1; seq <= 400; seq += 20) write("t-a", seq, seq + 19);
    Path journalDir = dir.resolve("journal");
    Path trash = journalDir.resolve("trash");
    // Every log and table LevelDB keeps has its second name in trash...
    List<Path> kept = files(journalDir);
    assertTrue(kept.stream().anyMatch(p -> p.toString().endsWith(".sst")), "tables written: " + kept);
    for (Path p : kept) assertEquals(2, (Integer) Files.getAttribute(p, "unix:nlink"), p + " has a second name");
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
