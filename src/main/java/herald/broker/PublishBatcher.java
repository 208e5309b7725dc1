package herald.broker;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Group commit for one topic on this node: at most one journal write in flight; whatever arrives
 * meanwhile becomes the next write. Each publisher's future completes only after the write that
 * holds its messages succeeded.
 *
 * <p>Every publish has a deadline, and its answer by then is the truth: a write the topic never
 * handed to its journal fails with {@link Publisher.NotStored}, and the topic refuses it if it comes
 * later (the deadline travels with the write); only a write the topic said it handed to its journal
 * fails with {@link Publisher.OutcomeUnknown}.
 */
public final class PublishBatcher extends AbstractBehavior<PublishBatcher.Command> {

  public interface Command {}

  /** Local only: the future is completed by this actor by {@code deadline} (epoch ms). */
  public record Publish(List<Published> messages, long deadline, CompletableFuture<Topic.Appended> result)
      implements Command {
    public Publish(List<Published> messages, CompletableFuture<Topic.Appended> result) {
      this(messages, System.currentTimeMillis() + PUBLISH_TIMEOUT.toMillis(), result);
    }
  }

  private record WriteDone(List<Publish> batch, Topic.Appended appended, Throwable failure, long startNanos, int size)
      implements Command {}

  /** The topic handed write {@code write} to its journal. */
  private record Handed(long write) implements Command {}

  static final int MAX_BATCH_BYTES = 4 * 1024 * 1024;
  static final int MAX_BATCH_MESSAGES = 20_000;
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

  public static Behavior<Command> create(String topic) {
    return create(topic, WriteMeters.register(new SimpleMeterRegistry()));
  }

  /** Times and sizes every journal write in {@code meters}. */
  static Behavior<Command> create(String topic, WriteMeters meters) {
    return Behaviors.setup(ctx -> new PublishBatcher(ctx, topic, meters));
  }

  private final String topic;
  private final WriteMeters meters;
  private final ArrayDeque<Publish> waiting = new ArrayDeque<>();
  private final org.apache.pekko.actor.typed.ActorRef<Topic.Writing> handedTo;
  private boolean writing;
  private long write;         // the number of the write in flight (or the last one)
  private boolean handed;     // the topic said it handed that write to its journal

  private PublishBatcher(ActorContext<Command> ctx, String topic, WriteMeters meters) {
    super(ctx);
    this.topic = topic;
    this.handedTo = ctx.messageAdapter(Topic.Writing.class, w -> new Handed(w.write()));
    this.meters = meters;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Publish.class, p -> {
          waiting.add(p);
          if (!writing) write();
          return this;
        })
        .onMessage(Handed.class, h -> {
          if (writing && h.write() == write) handed = true;
          return this;
        })
        .onMessage(WriteDone.class, this::onWriteDone)
        .build();
  }

  private void write() {
    List<Publish> batch = new ArrayList<>();
    List<Published> messages = new ArrayList<>();
    long bytes = 0;
    long now = System.currentTimeMillis();
    long deadline = Long.MAX_VALUE;
    while (!waiting.isEmpty()) {
      Publish next = waiting.peek();
      if (next.deadline() - HANDED_MARGIN.toMillis() <= now) {
        // Too late for the topic to take it: never sent, so certainly not stored.
        waiting.poll();
        next.result().completeExceptionally(new Publisher.NotStored("no time left to write it"));
        continue;
      }
      long size = 0;
      for (Published m : next.messages()) size += m.body().length();
      boolean full = bytes + size > MAX_BATCH_BYTES || messages.size() + next.messages().size() > MAX_BATCH_MESSAGES;
      if (!batch.isEmpty() && full) break;
      waiting.poll();
      batch.add(next);
      messages.addAll(next.messages());
      bytes += size;
      deadline = Math.min(deadline, next.deadline());
    }
    if (batch.isEmpty()) return;
    writing = true;
    handed = false;
    long number = ++write;
    long start = System.nanoTime();
    int size = messages.size();
    long topicDeadline = deadline - HANDED_MARGIN.toMillis();
    getContext().askWithStatus(
        Topic.Appended.class,
        BrokerEntity.topic(getContext().getSystem(), topic),
        Duration.ofMillis(Math.max(1, deadline - now)),
        replyTo -> new Topic.Append(List.copyOf(messages), topicDeadline, number, handedTo, replyTo),
        (appended, failure) -> new WriteDone(batch, appended, failure, start, size));
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
    writing = false;
    meters.record(done.startNanos(), done.size());
    RuntimeException failure = done.failure() == null ? null : failure(done.failure());
    if (failure == null) {
      // The topic names the duplicates by their place in the whole write; each publisher gets its own.
      int[] sizes = done.batch().stream().mapToInt(p -> p.messages().size()).toArray();
      Topic.Appended[] answers = done.appended().split(sizes);
      for (int i = 0; i < answers.length; i++) done.batch().get(i).result().complete(answers[i]);
    } else {
      for (Publish p : done.batch()) p.result().completeExceptionally(failure);
    }
    if (failure != null) {
      // The topic did not answer: what waited behind that write would wait as long again. It was
      // never sent, so it is certainly not stored; the client may retry at once.
      for (Publish p : waiting) p.result().completeExceptionally(new Publisher.NotStored("the topic did not answer the write before it"));
      waiting.clear();
    }
    if (!waiting.isEmpty()) write();
    return this;
  }
}
