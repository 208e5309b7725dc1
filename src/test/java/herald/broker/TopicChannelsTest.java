package herald.broker;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TopicChannelsTest {
  private static final Topic.State CREATED = Topic.State.initial().created(1);

  private static TopicChannels channels(boolean topicEphemeral) {
    // Nothing here is told anything: no channel entity is ever asked for.
    return new TopicChannels(topicEphemeral, channel -> {
      throw new AssertionError("asked for a channel entity");
    });
  }

  @Test
  void aChannelStartsWhereTheStateOrTheEphemeralTableSays() {
    TopicChannels channels = channels(false);
    Topic.State state = CREATED.channelAdded("archive", new Topic.Start(0, 1));
    channels.addEphemeral("tail#ephemeral", new Topic.Start(5, 6));
    assertEquals(new Topic.Start(0, 1), channels.startOf(state, "archive"));
    assertEquals(new Topic.Start(5, 6), channels.startOf(state, "tail#ephemeral"));
    assertNull(channels.startOf(state, "other"));
    assertNull(channels.startOf(Topic.State.initial(), "archive"), "a topic that does not exist has no durable channel");
  }

  @Test
  void aDurableTopicKeepsItsBacklogUntilItsFirstDurableChannel() {
    TopicChannels channels = channels(false);
    channels.addEphemeral("tail#ephemeral", new Topic.Start(0, 1));
    assertFalse(channels.none(CREATED));
    assertTrue(channels.keepBacklog(CREATED), "an ephemeral channel never takes the backlog away");
    assertFalse(channels.keepBacklog(CREATED.channelAdded("archive", new Topic.Start(0, 1))));
  }

  @Test
  void anEphemeralTopicKeepsItsBacklogUntilItsFirstChannelOfAnyKind() {
    TopicChannels channels = channels(true);
    assertTrue(channels.none(CREATED));
    assertTrue(channels.keepBacklog(CREATED));
    channels.addEphemeral("tail#ephemeral", new Topic.Start(0, 1));
    assertFalse(channels.keepBacklog(CREATED));
    channels.removeEphemeral("tail#ephemeral");
    assertTrue(channels.keepBacklog(CREATED));
  }

  @Test
  void allListsDurableChannelsSortedThenEphemeralOnesInTheOrderTheyCame() {
    TopicChannels channels = channels(false);
    Topic.State state = CREATED.channelAdded("b", new Topic.Start(0, 1)).channelAdded("a", new Topic.Start(0, 1));
    channels.addEphemeral("z#ephemeral", new Topic.Start(0, 1));
    channels.addEphemeral("y#ephemeral", new Topic.Start(0, 1));
    assertEquals(List.of("a", "b", "z#ephemeral", "y#ephemeral"), channels.all(state));
    channels.clearEphemeral();
    assertEquals(List.of("a", "b"), channels.all(state));
    assertFalse(channels.anyEphemeral());
  }
}
