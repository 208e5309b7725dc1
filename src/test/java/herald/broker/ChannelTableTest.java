package herald.broker;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.cluster.sharding.typed.testkit.javadsl.TestEntityRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChannelTableTest {
  private static final Topic.State CREATED = Topic.State.initial().created(1);
  private static final ActorTestKit testKit = ActorTestKit.create("channel-table-test");

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  private static ChannelTable channels(boolean topicEphemeral) {
    // Nothing here is told anything: no channel entity is ever asked for.
    return new ChannelTable(topicEphemeral, channel -> {
      throw new AssertionError("asked for a channel entity");
    });
  }

  @Test
  void aChannelStartsWhereTheStateOrTheEphemeralTableSays() {
    ChannelTable channels = channels(false);
    Topic.State state = CREATED.channelAdded("archive", new Topic.Start(0, 1));
    channels.addEphemeral("tail#ephemeral", new Topic.Start(5, 6));
    assertEquals(new Topic.Start(0, 1), channels.startOf(state, "archive"));
    assertEquals(new Topic.Start(5, 6), channels.startOf(state, "tail#ephemeral"));
    assertNull(channels.startOf(state, "other"));
    assertNull(channels.startOf(Topic.State.initial(), "archive"), "a topic that does not exist has no durable channel");
  }

  @Test
  void aDurableTopicKeepsItsBacklogUntilItsFirstDurableChannel() {
    ChannelTable channels = channels(false);
    channels.addEphemeral("tail#ephemeral", new Topic.Start(0, 1));
    assertFalse(channels.none(CREATED));
    assertTrue(channels.keepBacklog(CREATED), "an ephemeral channel never takes the backlog away");
    assertFalse(channels.keepBacklog(CREATED.channelAdded("archive", new Topic.Start(0, 1))));
  }

  @Test
  void anEphemeralTopicKeepsItsBacklogUntilItsFirstChannelOfAnyKind() {
    ChannelTable channels = channels(true);
    assertTrue(channels.none(CREATED));
    assertTrue(channels.keepBacklog(CREATED));
    channels.addEphemeral("tail#ephemeral", new Topic.Start(0, 1));
    assertFalse(channels.keepBacklog(CREATED));
    channels.removeEphemeral("tail#ephemeral");
    assertTrue(channels.keepBacklog(CREATED));
  }

  @Test
  void allListsDurableChannelsSortedThenEphemeralOnesInTheOrderTheyCame() {
    ChannelTable channels = channels(false);
    Topic.State state = CREATED.channelAdded("b", new Topic.Start(0, 1)).channelAdded("a", new Topic.Start(0, 1));
    channels.addEphemeral("z#ephemeral", new Topic.Start(0, 1));
    channels.addEphemeral("y#ephemeral", new Topic.Start(0, 1));
    assertEquals(List.of("a", "b", "z#ephemeral", "y#ephemeral"), channels.all(state));
    channels.clearEphemeral();
    assertEquals(List.of("a", "b"), channels.all(state));
    assertFalse(channels.anyEphemeral());
  }

  @Test
  void aChannelIsToldThroughShardingUntilItSaysWhereItRunsAndAgainOnceItStops() {
    TestProbe<BrokerEntity.Command> sharding = testKit.createTestProbe();
    TestProbe<Channel.Command> running = testKit.createTestProbe();
    ChannelTable channels = new ChannelTable(false,
        channel -> TestEntityRef.of(BrokerEntity.KEY, BrokerEntity.channelId("orders", channel), sharding.ref()));
    Channel.Command hello = new Channel.TopicPaused(true);
    channels.ref("archive").tell(hello);
    sharding.expectMessage(hello);
    assertTrue(channels.runsAt("archive", running.ref()), "news: the topic watches it");
    assertFalse(channels.runsAt("archive", running.ref()), "the same place again is no news");
    assertFalse(channels.runsAt("archive", null), "unknown is no news");
    assertSame(running.ref(), channels.ref("archive"));
    channels.ref("archive").tell(hello);
    running.expectMessage(hello);
    // The tell went one way at once: one sent through sharding too would be there already.
    sharding.expectNoMessage(java.time.Duration.ofMillis(100));
    channels.stopped("archive", running.ref());
    channels.ref("archive").tell(hello);
    sharding.expectMessage(hello);
  }
}
