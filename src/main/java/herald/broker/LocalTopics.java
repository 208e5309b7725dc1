package herald.broker;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The topics running on this node, each with its {@link TopicInbox}: a publish to one of them goes
 * straight to it, without the batcher's actor and the ask through sharding (a topic and what
 * publishes to it on its own node need neither). Everything else goes through the
 * {@link PublishBatcher}, and so does every publish while the node's journal fails: a topic that
 * cannot write moves (its node hands its shards away), and sharding finds it where it went.
 *
 * <p>A topic leaves on PostStop and PreRestart; a watch makes sure that one that stopped without
 * either (Pekko's back-off restart keeps PostStop from a topic stopped while it waits to restart)
 * leaves as well: a dead topic never holds publishes.
 */
public final class LocalTopics implements Extension {
  private static final ExtensionId<LocalTopics> ID = new ExtensionId<>() {
    @Override
    public LocalTopics createExtension(ActorSystem<?> system) {
      return new LocalTopics(system);
    }
  };

  public static LocalTopics get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  private final ActorSystem<?> system;
  private final ConcurrentHashMap<String, TopicInbox> inboxes = new ConcurrentHashMap<>();
  private volatile WriteMeters meters = WriteMeters.register(new SimpleMeterRegistry());
  // Where a publish goes that waited for a topic that stopped before taking it.
  private volatile Consumer<Rerouted> elsewhere = r ->
      r.result().completeExceptionally(new Publisher.NotStored("the topic stopped before it took the write"));
  private volatile BooleanSupplier journalWorks = () -> true;
  private final ActorRef<Watch> watcher;

  /** A publish given back by a topic that stopped before taking it. */
  record Rerouted(String topic, List<Published> messages, long deadline, CompletableFuture<Topic.Appended> result) {}

  /** Watches a topic that runs here, so that it leaves once it is gone. */
  private record Watch(String topic, ActorRef<Topic.Command> ref) {}

  private LocalTopics(ActorSystem<?> system) {
    this.system = system;
    this.watcher = system.systemActorOf(watching(), "local-topics", Props.empty());
  }

  private Behavior<Watch> watching() {
    Map<ActorRef<Void>, String> watched = new HashMap<>();
    return Behaviors.setup(ctx -> Behaviors.receive(Watch.class)
        .onMessage(Watch.class, w -> {
          if (watched.putIfAbsent(w.ref().unsafeUpcast(), w.topic()) == null) ctx.watch(w.ref());
          return Behaviors.same();
        })
        .onSignal(Terminated.class, t -> {
          String topic = watched.remove(t.getRef().<Void>unsafeUpcast());
          TopicInbox inbox = topic == null ? null : inboxes.get(topic);
          if (inbox != null) detach(topic, inbox, t.getRef().unsafeUpcast());
          return Behaviors.same();
        })
        .build());
  }

  /** Publishes take the inbox only while {@code works} says the node's journal answers. */
  void journalWorks(BooleanSupplier works) {
    this.journalWorks = works;
  }

  /** The node's publisher: its meters, and its way to topics that do not run here. */
  void serve(WriteMeters meters, Consumer<Rerouted> elsewhere) {
    this.meters = meters;
    this.elsewhere = elsewhere;
  }

  WriteMeters meters() {
    return meters;
  }

  /**
   * Queues a publish for {@code topic} if it runs on this node and answers {@code result} by
   * {@code deadline} (epoch ms); false, with nothing queued, if it does not run here.
   */
  boolean offer(String topic, List<Published> messages, long deadline, CompletableFuture<Topic.Appended> result) {
    TopicInbox inbox = running(topic);
    if (inbox == null) return false;
    TopicInbox.Waiting w = new TopicInbox.Waiting(messages, deadline, result);
    if (inbox.offer(w)) return true;
    w.untake();
    return false;
  }

  /** Whether {@code topic} runs on this node now and takes its publishes from its inbox. */
  boolean runs(String topic) {
    return running(topic) != null;
  }

  private TopicInbox running(String topic) {
    TopicInbox inbox = inboxes.get(topic);
    return inbox != null && inbox.isAttached() && journalWorks.getAsBoolean() ? inbox : null;
  }

  /** A topic runs here from now on and takes its publishes from the inbox returned. */
  TopicInbox attach(String topic, ActorRef<Topic.Command> self) {
    TopicInbox inbox = inboxes.computeIfAbsent(topic, t -> new TopicInbox(system.scheduler(), system.executionContext()));
    inbox.attach(self);
    watcher.tell(new Watch(topic, self));
    return inbox;
  }

  /** The topic stopped or restarts: what waited for it goes the other way. */
  void detach(String topic, TopicInbox inbox, ActorRef<Topic.Command> self) {
    List<TopicInbox.Waiting> left = inbox.detach(self);
    inboxes.computeIfPresent(topic, (t, i) -> i == inbox && !i.isAttached() ? null : i);
    for (TopicInbox.Waiting w : left) elsewhere.accept(new Rerouted(topic, w.messages(), w.deadline(), w.result()));
  }
}
