package herald.cluster;

import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.ddata.ORSet;
import org.apache.pekko.cluster.ddata.ORSetKey;
import org.apache.pekko.cluster.ddata.SelfUniqueAddress;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;
import org.apache.pekko.cluster.ddata.typed.javadsl.ReplicatorMessageAdapter;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.Persistence;

import java.time.Duration;
import java.util.Set;

/**
 * Asks the node's journal, through the journal plugin itself (its connection pool and circuit
 * breaker), for the highest sequence number of an id never written, twice a second. An answer
 * that fails or takes over 2 s makes the journal "failing" in JournalHealth, from when it was asked. A node in a
 * cluster whose journal has failed for {@code unfitAfter} adds itself to the shared set of unfit
 * nodes (Distributed Data), so FitNodesFirst moves its shards to nodes that can use the journal,
 * and takes itself out again once an answer comes in time.
 */
public final class JournalWatch extends AbstractBehavior<JournalWatch.Command> {
  public interface Command {}

  private enum Tick implements Command { INSTANCE }

  private record Answered(Object answer) implements Command {}

  private record UnfitChanged(Set<String> nodes) implements Command {}

  private record Said(boolean unfit, boolean done) implements Command {}

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(JournalWatch.class);
  static final Duration PROBE_EVERY = Duration.ofMillis(500);
  // Generous for a busy machine; the failure still counts from when the probe was sent.
  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);
  static final org.apache.pekko.cluster.ddata.Key<ORSet<String>> UNFIT = ORSetKey.create("herald-journal-unfit");
  private static final String PROBE_ID = "herald-journal-probe";

  public static Behavior<Command> create(JournalHealth health, Duration unfitAfter, boolean clustered) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay(Tick.INSTANCE, PROBE_EVERY);
      return new JournalWatch(ctx, health, unfitAfter, clustered);
    }));
  }

  private final JournalHealth health;
  private final Duration unfitAfter;
  private final ActorRef<Object> answers;
  private final ReplicatorMessageAdapter<Command, ORSet<String>> replicator;
  private final SelfUniqueAddress self;
  private final String address;
  private long probeSentNanos;   // 0: no probe waiting for its answer
  private long probeSentMs;
  // Until the first answer, only a failure counts, not a slow answer: the start has just used the
  // journal (Journal.touch), and a busy pool at start is not a lost link.
  private boolean answered;
  private Boolean said;          // what this node last wrote to the shared set (null: nothing yet)

  private JournalWatch(ActorContext<Command> ctx, JournalHealth health, Duration unfitAfter, boolean clustered) {
    super(ctx);
    this.health = health;
    this.unfitAfter = unfitAfter;
    this.answers = ctx.messageAdapter(Object.class, Answered::new);
    if (clustered) {
      DistributedData data = DistributedData.get(ctx.getSystem());
      this.replicator = new ReplicatorMessageAdapter<>(ctx, data.replicator(), Duration.ofSeconds(5));
      this.self = data.selfUniqueAddress();
      this.address = self.uniqueAddress().address().toString();
      replicator.subscribe(UNFIT, changed -> changed instanceof Replicator.Changed<ORSet<String>> c
          ? new UnfitChanged(c.get(UNFIT).getElements()) : new UnfitChanged(Set.of()));
    } else {
      this.replicator = null;
      this.self = null;
      this.address = null;
    }
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Tick.class, t -> onTick())
        .onMessage(Answered.class, this::onAnswered)
        .onMessage(UnfitChanged.class, c -> {
          health.unfitNodes(c.nodes());
          return this;
        })
        .onMessage(Said.class, s -> {
          if (!s.done()) said = null;   // not written everywhere in time: it spreads anyway; say it again
          return this;
        })
        .build();
  }

  private Behavior<Command> onTick() {
    if (probeSentNanos == 0) {
      probeSentNanos = System.nanoTime();
      probeSentMs = System.currentTimeMillis();
      Persistence.get(Adapter.toClassic(getContext().getSystem())).journalFor("", ConfigFactory.empty())
          .tell(new JournalProtocol.ReplayMessages(1, 0, 0, PROBE_ID, Adapter.toClassic(answers)),
              Adapter.toClassic(answers));
    } else if (answered && System.nanoTime() - probeSentNanos > PROBE_TIMEOUT.toNanos()) {
      health.failing("no answer within " + PROBE_TIMEOUT.toMillis() + " ms", probeSentMs);
    }
    if (replicator != null) decideFitness();
    return this;
  }

  private Behavior<Command> onAnswered(Answered a) {
    if (a.answer() instanceof JournalProtocol.RecoverySuccess) {
      probeSentNanos = 0;
      answered = true;
      health.ok();
    } else if (a.answer() instanceof JournalProtocol.ReplayMessagesFailure f) {
      probeSentNanos = 0;
      health.failing(rootMessage(f.cause()), probeSentMs);
    }
    return this;
  }

  private void decideFitness() {
    boolean unfit = health.failingFor().compareTo(unfitAfter) >= 0;
    if (said != null && said == unfit) return;
    if (unfit) log.warn("journal failing for {}: this node hands its topics to nodes that can use it", health.failingFor());
    else if (Boolean.TRUE.equals(said)) log.warn("journal answers again: this node takes topics again");
    said = unfit;
    health.unfit(unfit);
    replicator.askUpdate(
        replyTo -> new Replicator.Update<>(UNFIT, ORSet.empty(), new Replicator.WriteAll(Duration.ofSeconds(2)), replyTo,
            set -> unfit ? set.add(self, address) : set.remove(self, address)),
        response -> new Said(unfit, response instanceof Replicator.UpdateSuccess));
  }

  private static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }
}
