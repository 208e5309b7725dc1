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
 */
public final class PublishBatcher extends AbstractBehavior<PublishBatcher.Command> {

  public interface Command {}

  /** Local only: the future is completed by this actor. */
  public record Publish(List<Published> messages, CompletableFuture<Topic.Appended> result) implements Command {}

  private record WriteDone(List<Publish> batch, Topic.Appended appended, Throwable failure, long startNanos, int size)
      implements Command {}

  static final int MAX_BATCH_BYTES = 4 * 1024 * 1024;
  static final int MAX_BATCH_MESSAGES = 20_000;
  /**
   * A write not answered by then is a 503. While a topic moves to another node (its node died),
   * a publish gets that answer within this time instead of waiting for the move.
   */
  static final Duration WRITE_TIMEOUT = Duration.ofSeconds(4);
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
  private boolean writing;

  private PublishBatcher(ActorContext<Command> ctx, String topic, MeterRegistry metrics) {
    super(ctx);
    this.topic = topic;
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
        .onMessage(WriteDone.class, this::onWriteDone)
        .build();
  }

  private void write() {
    List<Publish> batch = new ArrayList<>();
    List<Published> messages = new ArrayList<>();
    long bytes = 0;
    while (!waiting.isEmpty()) {
      Publish next = waiting.peek();
      long size = 0;
      for (Published m : next.messages()) size += m.body().length();
      boolean full = bytes + size > MAX_BATCH_BYTES || messages.size() + next.messages().size() > MAX_BATCH_MESSAGES;
      if (!batch.isEmpty() && full) break;
      waiting.poll();
      batch.add(next);
      messages.addAll(next.messages());
      bytes += size;
    }
    writing = true;
    long start = System.nanoTime();
    int size = messages.size();
    getContext().askWithStatus(
        Topic.Appended.class,
        BrokerEntity.topic(getContext().getSystem(), topic),
        WRITE_TIMEOUT,
        replyTo -> new Topic.Append(List.copyOf(messages), replyTo),
        (appended, failure) -> new WriteDone(batch, appended, failure, start, size));
  }

  private Behavior<Command> onWriteDone(WriteDone done) {
    writing = false;
    writeTime.record(System.nanoTime() - done.startNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
    writeSize.record(done.size());
    long offset = done.appended() == null ? 0 : done.appended().firstOffset();
    // The topic names the duplicates by their place in the whole write; each publisher gets its own.
    List<Integer> duplicates = done.appended() == null ? List.of() : done.appended().duplicates();
    int first = 0;
    int next = 0;
    for (Publish p : done.batch()) {
      if (done.failure() != null) {
        p.result().completeExceptionally(done.failure());
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
    if (done.failure() != null) {
      // The topic did not answer: what waited behind that write would wait as long again. It was
      // never sent, so it is certainly not stored; the client may retry at once.
      for (Publish p : waiting) p.result().completeExceptionally(done.failure());
      waiting.clear();
    }
    if (!waiting.isEmpty()) write();
    return this;
  }
}
