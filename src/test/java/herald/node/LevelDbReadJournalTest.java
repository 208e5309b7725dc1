package herald.node;

import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.DeleteMessagesSuccess;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.Persistence;
import org.apache.pekko.persistence.PersistentEnvelope;
import org.apache.pekko.persistence.PersistentRepr$;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByPersistenceIdQuery;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.jdk.javaapi.CollectionConverters;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A channel reads its topic's journal back with bounded "current" reads (LevelDbReadJournal): every
 * read must end, with exactly the writes of its range that the journal holds. Pekko's own query
 * stage never ended a read of 64k + 1 writes (its batch size is max-buffer-size, 64 here), and a
 * channel whose read never ends delivers nothing more.
 */
class LevelDbReadJournalTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  @TempDir
  Path dir;
  private ActorTestKit testKit;
  private ActorRef journal;
  private TestProbe<Object> probe;
  private CurrentEventsByPersistenceIdQuery reader;

  @BeforeEach
  void start() {
    testKit = ActorTestKit.create("read-journal-test", ConfigFactory.parseString(String.join("\n",
            "pekko.actor.provider = local",
            "herald.read-journal = \"pekko.persistence.query.journal.leveldb\"",
            "pekko.persistence.query.journal.leveldb.max-buffer-size = 64",
            "pekko.persistence.journal.leveldb.dir = \"" + dir.resolve("journal") + "\""))
        .withFallback(ConfigFactory.load()));
    journal = Persistence.get(Adapter.toClassic(testKit.system())).journalFor("", ConfigFactory.empty());
    probe = testKit.createTestProbe();
    reader = herald.broker.Journals.reader(testKit.system());
  }

  @AfterEach
  void stop() {
    testKit.shutdownTestKit();
  }

  private void write(String id, long from, long to) {
    List<PersistentEnvelope> writes = new ArrayList<>();
    for (long seq = from; seq <= to; seq++) {
      writes.add(AtomicWrite.apply(PersistentRepr$.MODULE$.apply("event " + seq, seq, id, "", false, ActorRef.noSender(), "writer")));
    }
    journal.tell(new JournalProtocol.WriteMessages(CollectionConverters.asScala(writes).toList(), Adapter.toClassic(probe.ref()), 1),
        ActorRef.noSender());
    probe.expectMessageClass(JournalProtocol.WriteMessagesSuccessful$.class, WAIT);
    for (long seq = from; seq <= to; seq++) probe.expectMessageClass(JournalProtocol.WriteMessageSuccess.class, WAIT);
  }

  /** The sequence numbers a read returns; fails when it does not end within WAIT. */
  private List<Long> read(String id, long from, long to) throws Exception {
    List<EventEnvelope> events = reader.currentEventsByPersistenceId(id, from, to).runWith(Sink.seq(), testKit.system())
        .toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS);
    for (EventEnvelope e : events) assertEquals("event " + e.sequenceNr(), e.event());
    return events.stream().map(EventEnvelope::sequenceNr).toList();
  }

  private static List<Long> range(long from, long to) {
    return LongStream.rangeClosed(from, to).boxed().toList();
  }

  @Test
  void everyReadEndsWithTheWritesOfItsRange() throws Exception {
    write("t", 1, 200);
    write("other", 1, 10);
    // Any count of writes, in particular 64k + 1, up to a bound or to the last write.
    for (long[] r : new long[][] {{1, 64}, {1, 65}, {1, 66}, {1, 129}, {73, 137}, {136, 1000}, {137, 1000}, {1, Long.MAX_VALUE},
        {200, 200}, {200, 300}, {0, 3}}) {
      assertEquals(range(Math.max(1, r[0]), Math.min(200, r[1])), read("t", r[0], r[1]), r[0] + ".." + r[1]);
    }
    assertEquals(List.of(), read("t", 201, 1000));
    assertEquals(List.of(), read("t", 5, 4));
    assertEquals(List.of(), read("nobody", 1, 100));
  }

  @Test
  void readsEndAcrossDeletedAndMissingWrites() throws Exception {
    // A topic deletes what its channels are done with from its start; a repaired journal may miss writes anywhere.
    write("t", 1, 100);
    write("t", 166, 230);
    journal.tell(new JournalProtocol.DeleteMessagesTo("t", 30, Adapter.toClassic(probe.ref())), ActorRef.noSender());
    probe.expectMessageClass(DeleteMessagesSuccess.class, WAIT);
    List<Long> kept = new ArrayList<>(range(31, 100));
    kept.addAll(range(166, 230));
    assertEquals(kept, read("t", 1, Long.MAX_VALUE));
    assertEquals(range(31, 95), read("t", 1, 95));
    assertEquals(range(166, 230), read("t", 101, 1000));
    assertEquals(List.of(), read("t", 101, 165));
    assertEquals(List.of(), read("t", 1, 30));
  }
}
