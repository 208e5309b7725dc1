package herald.broker;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** The node's entry point for publishing: one PublishBatcher per topic, made on first use. */
public final class Publisher {
  private final ActorSystem<?> system;
  private final ConcurrentHashMap<String, ActorRef<PublishBatcher.Command>> batchers = new ConcurrentHashMap<>();
  private final AtomicLong names = new AtomicLong();

  public Publisher(ActorSystem<?> system) {
    this.system = system;
  }

  /** Completes once the messages are in the topic's journal. */
  public CompletionStage<Topic.Appended> publish(String topic, List<Published> messages) {
    CompletableFuture<Topic.Appended> result = new CompletableFuture<>();
    batchers.computeIfAbsent(topic, t ->
            system.systemActorOf(PublishBatcher.create(t), "publish-" + names.incrementAndGet(), Props.empty()))
        .tell(new PublishBatcher.Publish(messages, result));
    return result;
  }
}
