package herald.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.AbstractActor;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.Props;
import org.apache.pekko.actor.ReceiveTimeout;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.Persistence;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.ReadJournalProvider;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByPersistenceIdQuery;
import org.apache.pekko.stream.javadsl.Source;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The read side of {@link LevelDbJournal}: the bounded "current" query channels use to read their
 * topic's journal back. Pekko's LevelDB read journal refuses any write journal whose class is not
 * exactly its own, though it only sends the plugin actor the replay requests every Pekko journal
 * answers; this sends those requests itself. Live queries are not offered (Herald runs none, and
 * LevelDbJournal writes off the plugin's thread).
 *
 * <p>Not Pekko's query stage (EventsByPersistenceIdStage, Pekko 1.7): it asks for max-buffer-size
 * writes at a time and decides it is done by sequence-number arithmetic, and when a batch ends one
 * write short of the query's end (a read of 64k + 1 writes) it neither asks again nor completes. A
 * channel whose read never completes reads nothing more and holds every push back: after a restart
 * it delivered nothing at all (DurabilityTest, RetentionTest). Here each batch's end is the journal's
 * own answer (RecoverySuccess), and a batch that finds nothing ends the read, whatever gaps the
 * journal has.
 */
public final class LevelDbReadJournal implements ReadJournalProvider {
  private final Reader reader;

  public LevelDbReadJournal(ExtendedActorSystem system, Config config) {
    String writePlugin = config.getString("write-plugin");
    reader = new Reader(system, writePlugin.isEmpty() ? system.settings().config().getString("pekko.persistence.journal.plugin") : writePlugin,
        config.getInt("max-buffer-size"));
  }

  @Override
  public org.apache.pekko.persistence.query.scaladsl.ReadJournal scaladslReadJournal() {
    return new org.apache.pekko.persistence.query.scaladsl.ReadJournal() {};
  }

  @Override
  public org.apache.pekko.persistence.query.javadsl.ReadJournal javadslReadJournal() {
    return reader;
  }

  static final class Reader implements CurrentEventsByPersistenceIdQuery {
    // Longer than the journal's own circuit breaker (call-timeout), which answers a stuck call with a failure first.
    private static final Duration UNANSWERED = Duration.ofSeconds(30);
    private final ExtendedActorSystem system;
    private final String writePlugin;
    private final int batch;
    private final AtomicLong replays = new AtomicLong();

    Reader(ExtendedActorSystem system, String writePlugin, int batch) {
      this.system = system;
      this.writePlugin = writePlugin;
      this.batch = batch;
    }

    /** The writes from {@code fromSequenceNr} up to {@code toSequenceNr} or the last one written when it starts. */
    @Override
    public Source<EventEnvelope, NotUsed> currentEventsByPersistenceId(String persistenceId, long fromSequenceNr, long toSequenceNr) {
      return Source.unfoldAsync(new Range(Math.max(1, fromSequenceNr), toSequenceNr), range -> {
            if (range.from() > range.to()) return CompletableFuture.completedFuture(Optional.<Pair<Range, List<EventEnvelope>>>empty());
            return replay(persistenceId, range).thenApply(found -> {
              List<EventEnvelope> events = found.events();
              if (events.isEmpty()) return Optional.empty();
              long last = events.get(events.size() - 1).sequenceNr();
              // Up to the last write there was when the read began, as Pekko's current queries; a
              // batch not full had all there was up to there.
              Range rest = new Range(last + 1, events.size() < batch ? last : Math.min(range.to(), found.highest()));
              return Optional.of(Pair.create(rest, events));
            });
          })
          .mapConcat(events -> events)
          .named("currentEventsByPersistenceId-" + persistenceId);
    }

    private record Range(long from, long to) {}

    /** The first {@code batch} writes of the range, and the highest write the journal has. */
    private CompletionStage<Replayed> replay(String persistenceId, Range range) {
      CompletableFuture<Replayed> done = new CompletableFuture<>();
      ActorRef journal = Persistence.get(system).journalFor(writePlugin, ConfigFactory.empty());
      ActorRef collector = system.systemActorOf(Props.create(Collector.class, () -> new Collector(done)),
          "replay-" + replays.incrementAndGet());
      journal.tell(new JournalProtocol.ReplayMessages(range.from(), range.to(), batch, persistenceId, collector), ActorRef.noSender());
      return done;
    }

    private record Replayed(List<EventEnvelope> events, long highest) {}

    /** Takes one replay's answers: the writes, then the journal's end (or its failure). */
    private static final class Collector extends AbstractActor {
      private final CompletableFuture<Replayed> done;
      private final List<EventEnvelope> events = new ArrayList<>();

      Collector(CompletableFuture<Replayed> done) {
        this.done = done;
      }

      @Override
      public void preStart() {
        getContext().setReceiveTimeout(UNANSWERED);
      }

      @Override
      public Receive createReceive() {
        return receiveBuilder()
            .match(JournalProtocol.ReplayedMessage.class, m -> {
              PersistentRepr p = m.persistent();
              events.add(EventEnvelope.apply(new Sequence(p.sequenceNr()), p.persistenceId(), p.sequenceNr(), p.payload(), p.timestamp()));
            })
            .match(JournalProtocol.RecoverySuccess.class, m -> finish(() -> done.complete(new Replayed(events, m.highestSequenceNr()))))
            .match(JournalProtocol.ReplayMessagesFailure.class, m -> finish(() -> done.completeExceptionally(m.cause())))
            .match(ReceiveTimeout.class, m -> finish(() -> done.completeExceptionally(
                new TimeoutException("the journal did not answer a replay within " + UNANSWERED))))
            .build();
      }

      private void finish(Runnable outcome) {
        outcome.run();
        getContext().stop(getSelf());
      }
    }
  }
}
