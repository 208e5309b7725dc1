package herald.broker;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.pattern.StatusReply;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;

/**
 * Group commit for one topic on this node: at most one journal write in flight; whatever arrives
 * meanwhile becomes the next write. Each publisher's future completes only after the write that
 * holds its messages succeeded.
 *
 * <p>Every publish has a deadline, and its answer by then is the truth: a write the topic never
 * handed to its journal fails with {@link Publisher.NotStored}, and the topic refuses it if it comes
 * later (the deadline travels with the write); only a write the topic said it handed to its journal
 * fails with {@link Publisher.OutcomeUnknown}.
 *
 * <p>While a member of the cluster is unreachable, a write goes out in short tries: the topic may
 * take each one only within {@link #TRY_WINDOW}. A try not handed to the journal by then plus
 * {@link #HANDED_MARGIN} is certainly not stored (the same rule as the 503 above), so it is sent
 * again while the publish's deadline leaves time. A try that went to a dead node (its shard region
 * there not yet known to be gone) so costs about 1.5 s instead of the whole deadline, and the next
 * one finds the topic's new home as soon as the cluster has one.
 */
public final class PublishBatcher extends AbstractBehavior<PublishBatcher.Command> {

  public interface Command {}

  /** Local only: the future is completed by this actor by {@code deadline} (epoch ms). */
  public record Publish(List<Published> messages, long deadline, CompletableFuture<Topic.Appended> result)
      implements Command, GroupCommit.Waiting {
    public Publish(List<Published> messages, CompletableFuture<Topic.Appended> result) {
      this(messages, System.currentTimeMillis() + PUBLISH_TIMEOUT.toMillis(), result);
    }

    @Override
    public boolean take() {
      return true; // only this actor answers it
    }

    @Override
    public void answer(Topic.Appended appended) {
      result.complete(appended);
    }

    @Override
    public void refuse(RuntimeException failure) {
      result.completeExceptionally(failure);
    }
  }

  /** The outcome of try {@code write}: {@code appended}, or {@code failure}. */
  private record WriteDone(long write, Topic.Appended appended, Throwable failure) implements Command {}

  /** Try {@code write}'s window and margin are over. */
  private record TryOver(long write) implements Command {}

  /** The topic handed write {@code write} to its journal. */
  private record Handed(long write) implements Command {}

  /**
   * A publish is answered within this time. While a topic moves to another node (its node died or
   * lost its journal), a publish gets an error answer by then instead of waiting for the move.
   */
  public static final Duration PUBLISH_TIMEOUT = Duration.ofSeconds(4);
  /**
   * The topic starts a write only up to this long before the publish's deadline: time for its
   * "handed to the journal" note to come back, and for the clocks of two nodes to differ.
   */
  static final Duration HANDED_MARGIN = Duration.ofSeconds(1);
  /**
   * While a member is unreachable, how long the topic may take to start each try of a write. Short,
   * because a try to a dead node waits all of it plus the margin; any try not taken in time is
   * simply sent again.
   */
  static final Duration TRY_WINDOW = Duration.ofMillis(500);

  public static Behavior<Command> create(String topic) {
    return create(topic, WriteMeters.register(new SimpleMeterRegistry()));
  }

  /** Times and sizes every journal write in {@code meters}. */
  static Behavior<Command> create(String topic, WriteMeters meters) {
    return Behaviors.setup(ctx -> new PublishBatcher(ctx, topic, meters, memberUnreachable(ctx)));
  }

  /** As {@link #create(String)}, told by {@code memberUnreachable} whether to send in short tries. */
  static Behavior<Command> create(String topic, BooleanSupplier memberUnreachable) {
    return Behaviors.setup(ctx -> new PublishBatcher(ctx, topic, WriteMeters.register(new SimpleMeterRegistry()), memberUnreachable));
  }

  private static BooleanSupplier memberUnreachable(ActorContext<?> ctx) {
    Cluster cluster = Cluster.get(ctx.getSystem());
    return () -> !cluster.state().getUnreachable().isEmpty();
  }

  private final String topic;
  private final WriteMeters meters;
  private final ArrayDeque<Publish> waiting = new ArrayDeque<>();
  private final org.apache.pekko.actor.typed.ActorRef<Topic.Writing> handedTo;
  private long write;         // the number of the write in flight (or the last one)
  private boolean handed;     // the topic said it handed that write to its journal
  // The write in flight (null: none), kept to send it again in a new try.
  private GroupCommit.Write<Publish> current;
  private long startNanos;
  private final BooleanSupplier memberUnreachable;

  private PublishBatcher(ActorContext<Command> ctx, String topic, WriteMeters meters, BooleanSupplier memberUnreachable) {
    super(ctx);
    this.topic = topic;
    this.memberUnreachable = memberUnreachable;
    this.handedTo = ctx.messageAdapter(Topic.Writing.class, w -> new Handed(w.write()));
    this.meters = meters;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Publish.class, p -> {
          waiting.add(p);
          if (current == null) write();
          return this;
        })
        .onMessage(Handed.class, h -> {
          if (current != null && h.write() == write) handed = true;
          return this;
        })
        .onMessage(WriteDone.class, this::onWriteDone)
        .onMessage(TryOver.class, this::onTryOver)
        .build();
  }

  private void write() {
    long now = System.currentTimeMillis();
    current = GroupCommit.next(waiting, now);
    if (current == null) return;
    startNanos = System.nanoTime();
    send(now);
  }

  /** Sends the write in flight as a new try: its own number, so an answer to an earlier try is ignored. */
  private void send(long now) {
    handed = false;
    long number = ++write;
    long deadline = current.deadline();
    long topicDeadline = deadline - HANDED_MARGIN.toMillis();
    if (now + TRY_WINDOW.toMillis() < topicDeadline && memberUnreachable.getAsBoolean()) {
      topicDeadline = now + TRY_WINDOW.toMillis();
      getContext().scheduleOnce(TRY_WINDOW.plus(HANDED_MARGIN), getContext().getSelf(), new TryOver(number));
    }
    long topicDeadlineOfTry = topicDeadline;
    List<Published> messages = current.messages();
    getContext().askWithStatus(
        Topic.Appended.class,
        BrokerEntity.topic(getContext().getSystem(), topic),
        Duration.ofMillis(Math.max(1, deadline - now)),
        replyTo -> new Topic.Append(messages, topicDeadlineOfTry, number, handedTo, replyTo),
        (appended, failure) -> new WriteDone(number, appended, failure));
  }

  /** Whether a try that is certainly not stored leaves time for another (its window and the margin). */
  private boolean timeForAnotherTry(long now) {
    return current.deadline() - HANDED_MARGIN.toMillis() - now > TRY_WINDOW.toMillis() / 2;
  }

  private Behavior<Command> onTryOver(TryOver over) {
    if (current == null || over.write() != write || handed) return this;
    // Not handed to the journal within its window and the margin: the topic refuses it from now on.
    long now = System.currentTimeMillis();
    if (timeForAnotherTry(now)) {
      send(now);
      return this;
    }
    return onWriteDone(new WriteDone(write, null, new RuntimeException("the topic did not take the write in time")));
  }

  /** What the publishers of a write that failed are told: whether it may be stored after all. */
  private RuntimeException failure(Throwable failure) {
    if (failure instanceof java.util.concurrent.TimeoutException) {
      return handed
          ? new Publisher.OutcomeUnknown("the journal did not confirm the write in time; it may be stored")
          : new Publisher.NotStored("the topic did not take the write in time");
    }
    // The topic answered (it refused the write, past its deadline): nothing of it was written.
    return new Publisher.NotStored(failure.getMessage());
  }

  private Behavior<Command> onWriteDone(WriteDone done) {
    if (current == null || done.write() != write) return this; // an earlier try, given up and sent again
    if (done.failure() instanceof StatusReply.ErrorMessage e && Errors.PUB_EXPIRED.equals(e.getMessage())
        && timeForAnotherTry(System.currentTimeMillis())) {
      // The topic refused this try unwritten: its window passed while it waited (recovering after a move).
      send(System.currentTimeMillis());
      return this;
    }
    meters.record(startNanos, current.messages().size());
    if (done.failure() == null) {
      current.answer(done.appended());
    } else {
      current.refuse(failure(done.failure()));
      // The topic did not answer: what waited behind that write would wait as long again. It was
      // never sent, so it is certainly not stored; the client may retry at once.
      for (Publish p : waiting) p.refuse(new Publisher.NotStored("the topic did not answer the write before it"));
      waiting.clear();
    }
    current = null;
    if (!waiting.isEmpty()) write();
    return this;
  }
}
