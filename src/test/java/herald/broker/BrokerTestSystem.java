package herald.broker;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import herald.e2e.Await;
import herald.settings.Settings;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * A one-node cluster for driving Topic and Channel under EventSourcedBehaviorTestKit. Topic and
 * Channel reach each other (and TopicRegistry) only through Cluster Sharding, so both entity types
 * are started here with a recording stand-in: whatever an entity under test sends to another
 * entity is kept, tagged with the target entity id, and can be awaited. No real second entity
 * ever runs, so nothing but the entity under test writes to the in-memory journal.
 */
final class BrokerTestSystem {
  /** A message some entity sent through sharding to {@code entityId}. */
  record Routed(String entityId, Object message) {}

  static final Settings SETTINGS = new Settings(
      "127.0.0.1", 0, "127.0.0.1", 0, "unused-data-path",
      Duration.ofSeconds(60), Duration.ofMinutes(15), Duration.ofHours(1),
      1024 * 1024, 5 * 1024 * 1024, 2500, 10_000, "leveldb", "", "127.0.0.1:4151",
      Duration.ofMinutes(2), 100_000);

  private static final AtomicLong NAMES = new AtomicLong();

  final ActorTestKit testKit;
  private final List<Routed> routed = new ArrayList<>();

  BrokerTestSystem(String name) throws Exception {
    Config config = EventSourcedBehaviorTestKit.config()
        .withFallback(ConfigFactory.parseString(String.join("\n",
            "pekko.actor.provider = cluster",
            "pekko.remote.artery.canonical.hostname = \"127.0.0.1\"",
            "pekko.remote.artery.canonical.port = 0",
            "pekko.cluster.jmx.multi-mbeans-in-same-jvm = on",
            "pekko.coordinated-shutdown.exit-jvm = off",
            // Leaving the cluster at the end can take longer than the default 10 s on a loaded machine.
            "pekko.actor.testkit.typed.system-shutdown-default = 30s",
            // Channels read their topic's journal back through this query plugin.
            "herald.read-journal = \"pekko.persistence.testkit.query\"")))
        // The project's own config: serialization bindings, sharding settings.
        .withFallback(ConfigFactory.load());
    testKit = ActorTestKit.create(name, config);
    ActorSystem<?> system = testKit.system();

    ClusterSharding.get(system).init(Entity.of(BrokerEntity.KEY, ctx -> recorder(ctx.getEntityId())));
    ClusterSharding.get(system).init(Entity.of(TopicRegistry.KEY, ctx -> recorder("registry|" + ctx.getEntityId())));

    Cluster cluster = Cluster.get(system);
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    Await.until(Duration.ofSeconds(20), "the node to be Up", () -> cluster.selfMember().status() == MemberStatus.up());
  }

  private <T> Behavior<T> recorder(String entityId) {
    return Behaviors.receiveMessage(m -> {
      synchronized (routed) {
        routed.add(new Routed(entityId, m));
        routed.notifyAll();
      }
      return Behaviors.same();
    });
  }

  ActorSystem<?> system() {
    return testKit.system();
  }

  void shutdown() {
    testKit.shutdownTestKit();
  }

  /** A fresh topic name per test: persistence ids and sharding entities never collide. */
  static String uniqueName(String prefix) {
    return prefix + "-" + NAMES.incrementAndGet();
  }

  /** Waits for the first message of the given type sent to {@code entityId} that matches. */
  <T> T expectRouted(String entityId, Class<T> type, Predicate<T> matching) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    synchronized (routed) {
      while (true) {
        for (Routed r : routed) {
          if (r.entityId().equals(entityId) && type.isInstance(r.message()) && matching.test(type.cast(r.message()))) {
            return type.cast(r.message());
          }
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AssertionError("nothing of type " + type.getSimpleName() + " matching reached " + entityId
              + "; got " + routedTo(entityId));
        }
        try {
          routed.wait(Math.max(1, left / 1_000_000));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError(e);
        }
      }
    }
  }

  <T> T expectRouted(String entityId, Class<T> type) {
    return expectRouted(entityId, type, m -> true);
  }

  List<Object> routedTo(String entityId) {
    synchronized (routed) {
      return routed.stream().filter(r -> r.entityId().equals(entityId)).map(Routed::message).toList();
    }
  }
}
