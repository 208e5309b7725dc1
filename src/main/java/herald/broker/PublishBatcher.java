package herald.broker;

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

  private record WriteDone(List<Publish> batch, Topic.Appended appended, Throwable failure) implements Command {}

  static final int MAX_BATCH_BYTES = 4 * 1024 * 1024;
  static final int MAX_BATCH_MESSAGES = 20_000;
  private static final Duration WRITE_TIMEOUT = Duration.ofSeconds(10);

  public static Behavior<Command> create(String topic) {
    return Behaviors.setup(ctx -> new PublishBatcher(ctx, topic));
  }

  private final String topic;
  private final ArrayDeque<Publish> waiting = new ArrayDeque<>();
  private boolean writing;

  private PublishBatcher(ActorContext<Command> ctx, String topic) {
    super(ctx);
    this.topic = topic;
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
    getContext().askWithStatus(
        Topic.Appended.class,
        BrokerEntity.topic(getContext().getSystem(), topic),
        WRITE_TIMEOUT,
        replyTo -> new Topic.Append(List.copyOf(messages), replyTo),
        (appended, failure) -> new WriteDone(batch, appended, failure));
  }

  private Behavior<Command> onWriteDone(WriteDone done) {
    writing = false;
    long offset = done.appended() == null ? 0 : done.appended().firstOffset();
    for (Publish p : done.batch()) {
      if (done.failure() != null) {
        p.result().completeExceptionally(done.failure());
      } else {
        p.result().complete(new Topic.Appended(offset, p.messages().size()));
        offset += p.messages().size();
      }
    }
    if (!waiting.isEmpty()) write();
    return this;
  }
}
