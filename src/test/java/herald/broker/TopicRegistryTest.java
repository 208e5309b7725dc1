package herald.broker;

import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The registry's own stop (its shard moving, its node stopping) on Pekko's in-memory test journal. */
class TopicRegistryTest {
  private static final ActorTestKit kit = ActorTestKit.create("registry-test",
      PersistenceTestKitPlugin.config()
          .withFallback(ConfigFactory.parseString("pekko.actor.provider = local"))
          .withFallback(ConfigFactory.load()));

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  @Test
  void aStopWaitsForTheWritesThatReachedItFirst() {
    PersistenceTestKit journal = PersistenceTestKit.create(kit.system());
    ActorRef<TopicRegistry.Command> registry = kit.spawn(TopicRegistry.create());
    TestProbe<Object> probe = kit.createTestProbe();
    // "a" is written at once; "b" is gathered while it is, and the Stop comes behind both (as when
    // topics stopping on a node that shuts down tell the registry, and then its shard is handed off).
    registry.tell(new TopicRegistry.Register("a"));
    registry.tell(new TopicRegistry.Register("b"));
    registry.tell(TopicRegistry.Stop.INSTANCE);
    probe.expectTerminated(registry, Duration.ofSeconds(10));
    assertEquals(List.of(new TopicRegistry.Registered("a"), new TopicRegistry.Registered("b")),
        journal.persistedInStorage("registry|topics"));
  }
}
