package herald.broker;

import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Set;

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

  /** Every test's registry has the same persistence id: each starts from an empty journal. */
  @BeforeEach
  void emptyJournal() {
    PersistenceTestKit.create(kit.system()).clearAll();
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

  private static TopicRegistry.Topics topics(ActorRef<TopicRegistry.Command> registry) {
    TestProbe<TopicRegistry.Topics> reply = kit.createTestProbe();
    registry.tell(new TopicRegistry.GetTopics(reply.ref()));
    return reply.receiveMessage(Duration.ofSeconds(10));
  }

  /** One Announce is a Register, a SetChannels and a TopicRunning: written in one batch, and it runs. */
  @Test
  void anAnnounceRegistersTheTopicWithItsChannelsAsRunning() {
    PersistenceTestKit journal = PersistenceTestKit.create(kit.system());
    ActorRef<TopicRegistry.Command> registry = kit.spawn(TopicRegistry.create());
    ActorRef<BrokerEntity.Command> topic = kit.<BrokerEntity.Command>createTestProbe().ref();
    registry.tell(new TopicRegistry.Announce("a", List.of("c2", "c1"), topic));
    TopicRegistry.Topics topics = topics(registry);
    assertEquals(List.of("a"), topics.names());
    assertEquals(List.of("c1", "c2"), topics.channels().get("a"));
    assertEquals(Set.of("a"), topics.running());
    assertEquals(List.of(new TopicRegistry.Registered("a"), new TopicRegistry.ChannelsChanged("a", List.of("c1", "c2"))),
        journal.persistedInStorage("registry|topics"));
    kit.stop(registry);
  }

  /**
   * An Announce's running notice is not held back behind a write in progress: the topic's stop,
   * which comes after it, leaves the topic not running, whether or not something was being written.
   */
  @Test
  void aTopicThatAnnouncedAndStoppedIsNotRunning() {
    ActorRef<TopicRegistry.Command> registry = kit.spawn(TopicRegistry.create());
    ActorRef<BrokerEntity.Command> a = kit.<BrokerEntity.Command>createTestProbe().ref();
    ActorRef<BrokerEntity.Command> b = kit.<BrokerEntity.Command>createTestProbe().ref();
    // Nothing being written: a's announce goes at once; b's is gathered behind it.
    registry.tell(new TopicRegistry.Announce("a", List.of(), a));
    registry.tell(new TopicRegistry.Announce("b", List.of(), b));
    registry.tell(new TopicRegistry.TopicRunning("a", a, false));
    registry.tell(new TopicRegistry.TopicRunning("b", b, false));
    TopicRegistry.Topics topics = topics(registry);
    assertEquals(List.of("a", "b"), topics.names());
    assertEquals(Set.of(), topics.running());
    kit.stop(registry);
  }
}
