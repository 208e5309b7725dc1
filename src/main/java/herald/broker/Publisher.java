package herald.broker;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The node's entry point for publishing: straight into the topic's inbox when the topic runs on
 * this node (LocalTopics), else through one PublishBatcher per topic, made on first use.
 */
public final class Publisher {
  private final ActorSystem<?> system;
  private final ConcurrentHashMap<String, ActorRef<PublishBatcher.Command>> batchers = new ConcurrentHashMap<>();
  private final AtomicLong names = new AtomicLong();
  private final MeterRegistry metrics;
  private final ConcurrentHashMap<String, Counter> published = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Counter> duplicates = new ConcurrentHashMap<>();
  private final DiskSpace disk;
  private final Counter refused;
  private final LocalTopics local;
  private final WriteMeters meters;

  /**
   * A publish refused before it reached the journal, with the reason; nothing of it is stored.
   * HTTP answers 507 E_DISK_FULL; NSQ's TCP protocol answers E_PUB_FAILED with the reason.
   */
  public static final class Refused extends RuntimeException {
    public Refused(String reason) {
      super(reason, null, false, false);
    }
  }

  /**
   * Certainly not stored, and never will be: the write never reached the journal by the publish's
   * deadline, and the topic refuses it past then. HTTP 503 E_UNAVAILABLE; the client may retry.
   */
  public static final class NotStored extends RuntimeException {
    public NotStored(String reason) {
      super(reason, null, false, false);
    }
  }

  /**
   * The topic handed the write to its journal, which did not confirm it by the publish's deadline:
   * it may be stored or not. HTTP 504 E_PUB_UNKNOWN; a retry may store it twice, unless the
   * message has a dedup id (X-Herald-Msg-Id).
   */
  public static final class OutcomeUnknown extends RuntimeException {
    public OutcomeUnknown(String reason) {
      super(reason, null, false, false);
    }
  }

  public Publisher(ActorSystem<?> system) {
    this(system, new SimpleMeterRegistry());
  }

  /** Counts the messages published through this node, per topic, and times journal writes, in metrics. */
  public Publisher(ActorSystem<?> system, MeterRegistry metrics) {
    this(system, metrics, null, () -> true);
  }

  /**
   * Refuses publishes while {@code disk} (null: never) says space is low; publishes go through
   * sharding, not into the inbox of a topic here, while {@code journalWorks} says the journal fails.
   */
  public Publisher(ActorSystem<?> system, MeterRegistry metrics, DiskSpace disk, BooleanSupplier journalWorks) {
    this.system = system;
    this.metrics = metrics;
    this.disk = disk;
    this.refused = Counter.builder("herald.messages.refused")
        .description("messages refused before the journal because free disk space was below --min-free-space")
        .register(metrics);
    this.meters = WriteMeters.register(metrics);
    // What the node publishes itself (dead letters) keeps to the same reserve.
    if (disk != null) NodeDisk.get(system).use(disk);
    this.local = LocalTopics.get(system);
    local.journalWorks(journalWorks);
    local.serve(meters, r -> batcher(r.topic()).tell(new PublishBatcher.Publish(r.messages(), r.deadline(), r.result())));
  }

  private ActorRef<PublishBatcher.Command> batcher(String topic) {
    return batchers.computeIfAbsent(topic, t ->
        system.systemActorOf(PublishBatcher.create(t, meters), "publish-" + names.incrementAndGet(), Props.empty()));
  }

  /**
   * Completes once the messages are in the topic's journal. A message with a dedup id that the topic
   * already stored within its window is not stored again; the answer lists it as a duplicate.
   */
  public CompletionStage<Topic.Appended> publish(String topic, List<Published> messages) {
    String refusal = disk == null ? null : disk.refusal(messages);
    if (refusal != null) {
      refused.increment(messages.size());
      return CompletableFuture.failedFuture(new Refused(refusal));
    }
    CompletableFuture<Topic.Appended> result = new CompletableFuture<>();
    long deadline = System.currentTimeMillis() + PublishBatcher.PUBLISH_TIMEOUT.toMillis();
    if (!local.offer(topic, messages, deadline, result)) {
      batcher(topic).tell(new PublishBatcher.Publish(messages, deadline, result));
    }
    Counter counter = published.computeIfAbsent(topic, t -> Counter.builder("herald.messages.published")
        .description("messages published through this node and stored in their topic's journal")
        .tag("topic", t)
        .register(metrics));
    // Counted before anyone waiting on the publish hears of it.
    return result.thenApply(appended -> {
      counter.increment(appended.count());
      if (!appended.duplicates().isEmpty()) {
        duplicates.computeIfAbsent(topic, t -> Counter.builder("herald.messages.duplicates")
            .description("messages published through this node and not stored again: their X-Herald-Msg-Id was stored already")
            .tag("topic", t)
            .register(metrics)).increment(appended.duplicates().size());
      }
      return appended;
    });
  }
}
