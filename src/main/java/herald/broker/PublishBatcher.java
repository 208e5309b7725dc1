package herald.broker;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
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
  private static final Duration[] WRITE_TIME_BUCKETS = java.util.stream.LongStream
      .of(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000).mapToObj(Duration::ofMillis).toArray(Duration[]::new);

  public static Behavior<Command> create(String topic) {
    return create(topic, new SimpleMeterRegistry());
  }

  /** Times and sizes every journal write in {@code metrics} (one timer and one summary per node). */
  public static Behavior<Command> create(String topic, MeterRegistry metrics) {
    return Behaviors.setup(ctx -> new PublishBatcher(ctx, topic, metrics));
  }

  private final String topic;
  private final Timer writeTime;
  private final DistributionSummary writeSize;
  private final ArrayDeque<Publish> waiting = new ArrayDeque<>();
  private final org.apache.pekko.actor.typed.ActorRef<Topic.Writing> handedTo;
  private boolean writing;
  private long write;         // the number of the write in flight (or the last one)
  private boolean handed;     // the topic said it handed that write to its journal

  private PublishBatcher(ActorContext<Command> ctx, String topic, MeterRegistry metrics) {
    super(ctx);
    this.topic = topic;
    this.handedTo = ctx.messageAdapter(Topic.Writing.class, w -> new Handed(w.write()));
    this.writeTime = Timer.builder("herald.journal.write")
        .description("time of one publish write to a topic's journal, from the request to the topic's answer")
        .serviceLevelObjectives(WRITE_TIME_BUCKETS)
        .register(metrics);
    this.writeSize = DistributionSummary.builder("herald.journal.write.batch")
        .description("messages in one publish write to a topic's journal")
        .baseUnit("messages")
        .serviceLevelObjectives(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, MAX_BATCH_MESSAGES)
        .register(metrics);
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
    writeTime.record(System.nanoTime() - done.startNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
    writeSize.record(done.size());
    RuntimeException failure = done.failure() == null ? null : failure(done.failure());
    long offset = done.appended() == null ? 0 : done.appended().firstOffset();
    // The topic names the duplicates by their place in the whole write; each publisher gets its own.
    List<Integer> duplicates = done.appended() == null ? List.of() : done.appended().duplicates();
    int first = 0;
    int next = 0;
    for (Publish p : done.batch()) {
      if (failure != null) {
        p.result().completeExceptionally(failure);
        continue;
      }
      int end = first + p.messages().size();
      List<Integer> own = new ArrayList<>();
      for (; next < duplicates.size() && duplicates.get(next) < end; next++) own.add(duplicates.get(next) - first);
      int stored = p.messages().size() - own.size();
      p.result().complete(new Topic.Appended(offset, stored, own.isEmpty() ? List.of() : own));
      offset += stored;
      first = end;
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
