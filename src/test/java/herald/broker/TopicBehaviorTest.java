package herald.broker;

import herald.e2e.Await;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.ProcessingSuccess;
import org.apache.pekko.persistence.testkit.WriteSnapshot;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.SnapshotTestKit;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TopicBehaviorTest {
  private static BrokerTestSystem broker;

  private String topic;
  private EventSourcedBehaviorTestKit<Topic.Command, Topic.Event, Topic.State> kit;

  @BeforeAll
  static void startSystem() throws Exception {
    broker = new BrokerTestSystem("topic-behavior-test");
  }

  @AfterAll
  static void stopSystem() {
    broker.shutdown();
  }

  @BeforeEach
  void newTopic() {
    topic = BrokerTestSystem.uniqueName("orders");
    // Commands, events and state are all checked to round-trip through their serializers.
    kit = EventSourcedBehaviorTestKit.create(broker.system(), Topic.create(topic, BrokerTestSystem.SETTINGS));
  }

  // ---- helpers --------------------------------------------------------------------------------

  private static List<Published> messages(String... bodies) {
    List<Published> out = new ArrayList<>();
    long ts = 1_700_000_000_000L;
    for (String b : bodies) out.add(new Published(ByteString.fromString(b, StandardCharsets.UTF_8), ts++, 0));
    return out;
  }

  private EventSourcedBehaviorTestKit.CommandResultWithReply<Topic.Command, Topic.Event, Topic.State, StatusReply<Topic.Appended>>
      append(List<Published> messages) {
    return kit.runCommand(r -> new Topic.Append(messages, r));
  }

  private EventSourcedBehaviorTestKit.CommandResultWithReply<Topic.Command, Topic.Event, Topic.State, StatusReply<Done>>
      createChannel(String channel, boolean createTopic) {
    return kit.runCommand(r -> new Topic.CreateChannel(channel, createTopic, r));
  }

  private Topic.TopicStats stats() {
    return kit.<Topic.TopicStats>runCommand(Topic.GetStats::new).reply();
  }

  private String channelId(String channel) {
    return BrokerEntity.channelId(topic, channel);
  }

  private static void assertAck(StatusReply<Done> reply) {
    assertTrue(reply.isSuccess(), () -> "expected ack, got " + reply);
    assertEquals(Done.getInstance(), reply.getValue());
  }

  private static void assertError(String code, StatusReply<?> reply) {
    assertTrue(reply.isError(), () -> "expected error " + code + ", got " + reply);
    assertEquals(code, reply.getError().getMessage());
  }

  // ---- publish --------------------------------------------------------------------------------

  @Test
  void appendOnANewTopicCreatesItAndAppendsAtOffsetZero() {
    List<Published> batch = messages("a", "bb", "ccc");
    var result = append(batch);

    assertEquals(List.of(new Topic.TopicCreated(1), new Topic.MessagesAppended(0, batch)), result.events());
    assertTrue(result.reply().isSuccess());
    assertEquals(new Topic.Appended(0, 3), result.reply().getValue());
    Topic.State state = result.state();
    assertTrue(state.exists());
    assertEquals(3, state.nextOffset());
    assertEquals(6, state.messageBytes());
    // The new topic registers itself so /stats can find it.
    broker.expectRouted("registry|topics", TopicRegistry.Announce.class, r -> r.topic().equals(topic));
  }

  @Test
  void nextAppendContinuesTheOffsets() {
    append(messages("a", "b", "c"));
    List<Published> second = messages("d", "e");
    var result = append(second);

    assertEquals(List.of(new Topic.MessagesAppended(3, second)), result.events());
    assertEquals(new Topic.Appended(3, 2), result.reply().getValue());
    assertEquals(5, result.state().nextOffset());

    var third = append(messages("f"));
    assertEquals(new Topic.Appended(5, 1), third.reply().getValue());
    assertEquals(6, third.state().nextOffset());
  }

  @Test
  void anAppendPastItsDeadlineIsRefusedAndNeverWritten() {
    append(messages("a"));
    TestProbe<Topic.Writing> handed = broker.testKit.createTestProbe();
    var late = kit.<StatusReply<Topic.Appended>>runCommand(
        r -> new Topic.Append(messages("late"), System.currentTimeMillis() - 1, 7, handed.ref(), r));
    assertTrue(late.hasNoEvents());
    assertError(Errors.PUB_EXPIRED, late.reply());
    assertEquals(1, late.state().nextOffset());

    var inTime = kit.<StatusReply<Topic.Appended>>runCommand(
        r -> new Topic.Append(messages("b"), System.currentTimeMillis() + 60_000, 8, handed.ref(), r));
    assertEquals(new Topic.Appended(1, 1), inTime.reply().getValue());
    // Only the write that went to the journal is said to have gone there.
    assertEquals(new Topic.Writing(8), handed.receiveMessage());
    handed.expectNoMessage(Duration.ofMillis(200));
  }

  @Test
  void appendOfNothingPersistsNothing() {
    append(messages("a", "b"));
    var result = append(List.of());
    assertTrue(result.hasNoEvents());
    assertEquals(new Topic.Appended(2, 0), result.reply().getValue());
  }

  @Test
  void appendWithAChannelPushesTheBatchToIt() {
    createChannel("archive", true);
    List<Published> batch = messages("x", "y");
    append(batch);
    Channel.Push push = broker.expectRouted(channelId("archive"), Channel.Push.class);
    assertEquals(new Topic.MessagesAppended(0, batch), push.batch());
    // seqNr 1 TopicCreated, 2 ChannelAdded, 3 this batch.
    assertEquals(3, push.seqNr());
  }

  @Test
  void aChannelThatSaidWhereItRunsIsToldDirectlyUntilItStops() throws Exception {
    createChannel("archive", true);
    TestProbe<Channel.Command> channel = broker.testKit.createTestProbe();
    kit.runCommand(new Topic.Attach("archive", channel.ref()));
    assertTrue(channel.expectMessageClass(Channel.Attached.class).member());

    List<Published> batch = messages("x", "y");
    append(batch);
    assertEquals(new Topic.MessagesAppended(0, batch), channel.expectMessageClass(Channel.Push.class).batch());
    kit.runCommand(new Topic.ChannelAdmin("archive", Topic.ChannelOp.EMPTY, broker.testKit.<StatusReply<Done>>createTestProbe().ref()));
    channel.expectMessageClass(Channel.EmptyUpTo.class);

    // Once it stops, its next incarnation is found through sharding again.
    channel.stop();
    Await.until(Duration.ofSeconds(10), "a push routed through sharding after the channel stopped", () -> {
      append(messages("z"));
      return broker.routedTo(channelId("archive")).stream()
          .anyMatch(m -> m instanceof Channel.Push p && p.batch().messages().get(0).body().utf8String().equals("z"));
    });
  }

  // ---- create / delete ------------------------------------------------------------------------

  @Test
  void createTwicePersistsOnce() {
    var first = kit.<StatusReply<Done>>runCommand(Topic.Create::new);
    assertEquals(List.of(new Topic.TopicCreated(1)), first.events());
    assertAck(first.reply());
    assertTrue(first.state().exists());

    var second = kit.<StatusReply<Done>>runCommand(Topic.Create::new);
    assertTrue(second.hasNoEvents());
    assertAck(second.reply());
    assertTrue(stats().exists());
  }

  @Test
  void deleteOfAMissingTopicIsTopicNotFound() {
    var result = kit.<StatusReply<Done>>runCommand(Topic.Delete::new);
    assertTrue(result.hasNoEvents());
    assertError(Errors.TOPIC_NOT_FOUND, result.reply());
  }

  @Test
  void deleteRemovesTheTopicAndTellsItsChannels() {
    createChannel("archive", true);
    var result = kit.<StatusReply<Done>>runCommand(Topic.Delete::new);
    assertEquals(List.of(new Topic.TopicDeleted()), result.events());
    assertAck(result.reply());
    assertFalse(result.state().exists());
    assertTrue(result.state().channels().isEmpty());
    Topic.TopicStats stats = stats();
    assertFalse(stats.exists());
    assertEquals(List.of(), stats.channels());
    broker.expectRouted(channelId("archive"), Channel.Delete.class);
    broker.expectRouted("registry|topics", TopicRegistry.Unregister.class, u -> u.topic().equals(topic));
  }

  @Test
  void deleteThenRecreateKeepsOffsetsIncreasingAndRestartsTheMessageCount() {
    append(messages("a", "b", "c"));
    kit.<StatusReply<Done>>runCommand(Topic.Delete::new);

    List<Published> again = messages("d", "e");
    var result = append(again);
    // seqNr 1 TopicCreated, 2 MessagesAppended, 3 TopicDeleted: the re-creation is seqNr 4.
    assertEquals(List.of(new Topic.TopicCreated(4), new Topic.MessagesAppended(3, again)), result.events());
    assertEquals(new Topic.Appended(3, 2), result.reply().getValue());

    Topic.TopicStats stats = stats();
    assertTrue(stats.exists());
    assertEquals(2, stats.messageCount());
    assertEquals(2, stats.messageBytes());
    assertEquals(2, stats.depth(), "only the new topic's messages wait for a first channel");
  }

  @Test
  void emptyDropsWhatWaitsForAFirstChannel() {
    append(messages("a", "b", "c"));
    var result = kit.<StatusReply<Done>>runCommand(Topic.Empty::new);
    assertEquals(List.of(new Topic.BacklogStarted(3)), result.events());
    assertAck(result.reply());
    assertEquals(0, stats().depth());

    append(messages("d"));
    assertEquals(1, stats().depth());
    // A first channel now starts after the emptied messages.
    assertEquals(List.of(new Topic.ChannelAdded("late", 3, 3)), createChannel("late", false).events());
  }

  @Test
  void emptyOfAMissingTopicIsTopicNotFound() {
    var result = kit.<StatusReply<Done>>runCommand(Topic.Empty::new);
    assertTrue(result.hasNoEvents());
    assertError(Errors.TOPIC_NOT_FOUND, result.reply());
  }

  // ---- channels -------------------------------------------------------------------------------

  @Test
  void createChannelWithoutCreateTopicOnAMissingTopicIsTopicNotFound() {
    var result = createChannel("archive", false);
    assertTrue(result.hasNoEvents());
    assertError(Errors.TOPIC_NOT_FOUND, result.reply());
    assertFalse(result.state().exists());
  }

  @Test
  void createChannelWithCreateTopicCreatesBoth() {
    var result = createChannel("archive", true);
    assertEquals(List.of(new Topic.TopicCreated(1), new Topic.ChannelAdded("archive", 0, 1)), result.events());
    assertAck(result.reply());
    assertEquals(new Topic.Start(0, 1), result.state().channels().get("archive"));

    Channel.Attached attached = broker.expectRouted(channelId("archive"), Channel.Attached.class);
    assertTrue(attached.member());
    assertEquals(new Topic.Start(0, 1), attached.start());
  }

  @Test
  void firstChannelStartsAtTheBacklogAndASecondOneAtTheEnd() {
    append(messages("a", "b", "c"));   // seqNr 1 TopicCreated, 2 MessagesAppended

    var first = createChannel("first", false);
    assertEquals(List.of(new Topic.ChannelAdded("first", 0, 1)), first.events(),
        "messages published with no channel wait for the first one");
    assertAck(first.reply());

    var second = createChannel("second", false); // seqNr 3 was ChannelAdded(first)
    assertEquals(List.of(new Topic.ChannelAdded("second", 3, 4)), second.events(),
        "a later channel sees only what is published after it exists");

    Channel.Attached attached = broker.expectRouted(channelId("first"), Channel.Attached.class);
    assertTrue(attached.member());
    assertEquals(new Topic.Start(0, 1), attached.start());
    assertEquals(3, attached.topicNextOffset());
    assertEquals(3, attached.topicLastSeqNr());
    assertEquals(new Topic.Start(3, 4),
        broker.expectRouted(channelId("second"), Channel.Attached.class).start());
  }

  @Test
  void createChannelThatExistsPersistsNothing() {
    createChannel("archive", true);
    var again = createChannel("archive", false);
    assertTrue(again.hasNoEvents());
    assertAck(again.reply());
    assertEquals(List.of("archive"), stats().channels());
  }

  @Test
  void afterTheLastChannelIsRemovedMessagesWaitForTheNextFirstChannel() {
    append(messages("a", "b"));                 // 1 TopicCreated, 2 MessagesAppended
    createChannel("c1", false);                 // 3 ChannelAdded(c1, 0, 1)
    append(messages("c"));                      // 4 MessagesAppended(2)
    TestProbe<StatusReply<Done>> probe = broker.testKit.createTestProbe();
    var removed = kit.runCommand(new Topic.ChannelAdmin("c1", Topic.ChannelOp.DELETE, probe.ref()));
    assertEquals(List.of(new Topic.ChannelRemoved("c1", 5)), removed.events());
    assertEquals(0, stats().depth());

    append(messages("d"));                      // 6 MessagesAppended(3)
    assertEquals(1, stats().depth());
    assertEquals(List.of(new Topic.ChannelAdded("c2", 3, 5)), createChannel("c2", false).events());
  }

  @Test
  void anEphemeralChannelNeverTakesTheBacklogOfTheFirstDurableChannel() {
    append(messages("a"));                      // 1 TopicCreated, 2 MessagesAppended(0)
    assertAck(createChannel("tmp#ephemeral", false).reply());
    append(messages("b"));                      // 3 MessagesAppended(1), seen by the ephemeral channel too
    assertEquals(2, stats().depth(), "still kept for a first durable channel");
    var vanished = kit.runCommand(new Topic.ChannelVanished("tmp#ephemeral"));
    assertTrue(vanished.hasNoEvents(), "the backlog stays where it was");
    append(messages("c"));                      // 4 MessagesAppended(2)
    assertEquals(3, stats().depth());
    // The first durable channel starts where the backlog started: it gets a, b and c.
    assertEquals(List.of(new Topic.ChannelAdded("c", 0, 1)), createChannel("c", false).events());
    assertEquals(0, stats().depth());
  }

  @Test
  void anEphemeralChannelOnATopicWithoutDurableChannelStartsAtTheBacklog() {
    append(messages("a", "b"));                 // 1 TopicCreated, 2 MessagesAppended(0)
    assertAck(createChannel("tail#ephemeral", false).reply());
    Channel.Attached attached = broker.expectRouted(channelId("tail#ephemeral"), Channel.Attached.class);
    assertEquals(new Topic.Start(0, 1), attached.start());
    createChannel("c", false);
    assertAck(createChannel("late#ephemeral", false).reply());
    Channel.Attached late = broker.expectRouted(channelId("late#ephemeral"), Channel.Attached.class);
    assertEquals(2, late.start().offset(), "with a durable channel, a new ephemeral one starts at the end");
  }

  @Test
  void channelAdminOnAnUnknownChannelIsChannelNotFound() {
    createChannel("archive", true);
    for (Topic.ChannelOp op : Topic.ChannelOp.values()) {
      var result = kit.<StatusReply<Done>>runCommand(r -> new Topic.ChannelAdmin("nope", op, r));
      assertTrue(result.hasNoEvents(), op.toString());
      assertError(Errors.CHANNEL_NOT_FOUND, result.reply());
    }
  }

  @Test
  void channelAdminOnAMissingTopicIsTopicNotFound() {
    var result = kit.<StatusReply<Done>>runCommand(r -> new Topic.ChannelAdmin("archive", Topic.ChannelOp.PAUSE, r));
    assertTrue(result.hasNoEvents());
    assertError(Errors.TOPIC_NOT_FOUND, result.reply());
  }

  @Test
  void channelAdminDeletePersistsTheRemovalAndLetsTheChannelAnswer() {
    createChannel("archive", true);
    TestProbe<StatusReply<Done>> probe = broker.testKit.createTestProbe();
    var result = kit.runCommand(new Topic.ChannelAdmin("archive", Topic.ChannelOp.DELETE, probe.ref()));
    assertEquals(List.of(new Topic.ChannelRemoved("archive", 3)), result.events());
    assertFalse(result.state().channels().containsKey("archive"));
    Channel.Delete delete = broker.expectRouted(channelId("archive"), Channel.Delete.class);
    assertEquals(probe.ref(), delete.replyTo());
  }

  @Test
  void channelAdminPauseAndEmptyAreForwardedToTheChannel() {
    createChannel("archive", true);                 // 1 TopicCreated, 2 ChannelAdded
    append(messages("a", "b"));                     // 3 MessagesAppended
    TestProbe<StatusReply<Done>> probe = broker.testKit.createTestProbe();

    assertTrue(kit.runCommand(new Topic.ChannelAdmin("archive", Topic.ChannelOp.PAUSE, probe.ref())).hasNoEvents());
    Channel.SetPaused paused = broker.expectRouted(channelId("archive"), Channel.SetPaused.class);
    assertTrue(paused.paused());
    assertEquals(probe.ref(), paused.replyTo());

    kit.runCommand(new Topic.ChannelAdmin("archive", Topic.ChannelOp.UNPAUSE, probe.ref()));
    broker.expectRouted(channelId("archive"), Channel.SetPaused.class, p -> !p.paused());

    assertTrue(kit.runCommand(new Topic.ChannelAdmin("archive", Topic.ChannelOp.EMPTY, probe.ref())).hasNoEvents());
    Channel.EmptyUpTo empty = broker.expectRouted(channelId("archive"), Channel.EmptyUpTo.class);
    assertEquals(2, empty.offset(), "everything published so far");
    assertEquals(4, empty.seqNr(), "the next write of the topic");
    assertEquals(probe.ref(), empty.replyTo());
  }

  @Test
  void attachOfAKnownChannelAnswersWithItsStartAndOfAnUnknownOneWithNotAMember() throws Exception {
    append(messages("a"));
    createChannel("known", false);
    kit.runCommand(new Topic.Attach("known"));
    kit.runCommand(new Topic.Attach("stranger"));

    Await.until(Duration.ofSeconds(10), "two Attached for the known channel",
        () -> broker.routedTo(channelId("known")).stream().filter(m -> m instanceof Channel.Attached).count() == 2);
    for (Object m : broker.routedTo(channelId("known"))) {
      if (m instanceof Channel.Attached a) {
        assertTrue(a.member());
        assertEquals(new Topic.Start(0, 1), a.start());
      }
    }
    Channel.Attached stranger = broker.expectRouted(channelId("stranger"), Channel.Attached.class);
    assertFalse(stranger.member());
    assertNull(stranger.start());
  }

  // ---- pause ----------------------------------------------------------------------------------

  @Test
  void setPausedPersistsTopicPausedAndTellsTheChannels() {
    createChannel("archive", true);
    var paused = kit.<StatusReply<Done>>runCommand(r -> new Topic.SetPaused(true, r));
    assertEquals(List.of(new Topic.TopicPaused(true)), paused.events());
    assertAck(paused.reply());
    assertTrue(paused.state().paused());
    assertTrue(stats().paused());
    broker.expectRouted(channelId("archive"), Channel.TopicPaused.class, Channel.TopicPaused::paused);

    var unpaused = kit.<StatusReply<Done>>runCommand(r -> new Topic.SetPaused(false, r));
    assertEquals(List.of(new Topic.TopicPaused(false)), unpaused.events());
    assertFalse(unpaused.state().paused());
    broker.expectRouted(channelId("archive"), Channel.TopicPaused.class, p -> !p.paused());

    // An unpause of what is not paused changes nothing and writes nothing (it is let through below
    // --min-free-space, so a loop of them must not eat the reserve).
    var again = kit.<StatusReply<Done>>runCommand(r -> new Topic.SetPaused(false, r));
    assertTrue(again.hasNoEvents());
    assertAck(again.reply());
  }

  @Test
  void setPausedOnAMissingTopicIsTopicNotFound() {
    var result = kit.<StatusReply<Done>>runCommand(r -> new Topic.SetPaused(true, r));
    assertTrue(result.hasNoEvents());
    assertError(Errors.TOPIC_NOT_FOUND, result.reply());
  }

  // ---- stats ----------------------------------------------------------------------------------

  @Test
  void statsOfATopicThatNeverExisted() {
    Topic.TopicStats stats = stats();
    assertEquals(topic, stats.name());
    assertFalse(stats.exists());
    assertEquals(0, stats.depth());
    assertEquals(0, stats.messageCount());
    assertEquals(List.of(), stats.channels());
  }

  @Test
  void depthCountsMessagesWaitingForAFirstChannelAndIsZeroOnceOneExists() {
    append(messages("a", "b", "c", "d"));
    Topic.TopicStats before = stats();
    assertEquals(4, before.depth());
    assertEquals(4, before.messageCount());
    assertEquals(4, before.messageBytes());

    createChannel("archive", false);
    append(messages("e"));
    Topic.TopicStats after = stats();
    assertEquals(0, after.depth(), "messages belong to the channels once there is one");
    assertEquals(5, after.messageCount());
    assertEquals(List.of("archive"), after.channels());
  }

  @Test
  void statsListChannelsSorted() {
    createChannel("zeta", true);
    createChannel("alpha", false);
    createChannel("mid", false);
    assertEquals(List.of("alpha", "mid", "zeta"), stats().channels());
  }

  // ---- recovery -------------------------------------------------------------------------------

  @Test
  void restartRecoversTheStateAndWakesEveryChannel() throws Exception {
    append(messages("a", "b"));
    createChannel("archive", false);
    kit.<StatusReply<Done>>runCommand(r -> new Topic.SetPaused(true, r));
    append(messages("c"));
    Topic.State before = kit.getState();

    Topic.State after = kit.restart().state();
    assertEquals(before, after);
    assertEquals(3, after.nextOffset());
    assertTrue(after.paused());

    Await.until(Duration.ofSeconds(10), "the channel to be attached again after the restart",
        () -> broker.routedTo(channelId("archive")).stream().filter(m -> m instanceof Channel.Attached).count() == 2);
    Channel.Attached last = (Channel.Attached) broker.routedTo(channelId("archive")).stream()
        .filter(m -> m instanceof Channel.Attached).reduce((a, b) -> b).orElseThrow();
    assertTrue(last.member());
    assertEquals(new Topic.Start(0, 1), last.start());
    assertEquals(3, last.topicNextOffset());
    assertTrue(last.topicPaused());

    // And it carries on where it was.
    assertEquals(new Topic.Appended(3, 1), append(messages("d")).reply().getValue());
  }

  // ---- retention --------------------------------------------------------------------------------

  /**
   * Topic create + channels a and b (journal writes 1-3), then 2,000 writes of one message each:
   * snapshots at writes 1,000 and 2,000, so deletions may reach 1,000.
   */
  private int writesWithTwoChannels() {
    assertAck(createChannel("a", true).reply());
    assertAck(createChannel("b", false).reply());
    for (int i = 0; i < 2000; i++) append(messages("m" + i));
    return kit.persistenceTestKit().persistedInStorage(Topic.persistenceId(topic)).size();
  }

  private void awaitStored(int events) throws Exception {
    Await.until(Duration.ofSeconds(10), events + " events left in the journal",
        () -> kit.persistenceTestKit().persistedInStorage(Topic.persistenceId(topic)).size() == events);
  }

  @Test
  void eventsBelowEveryChannelsPositionAreDeleted() throws Exception {
    int all = writesWithTwoChannels();
    assertEquals(2003, all);
    // b has not said where it is: its start (write 3) holds everything, whatever a says.
    kit.runCommand(new Topic.ChannelAt("a", 900));
    kit.runCommand(new Topic.ChannelAt("nope", 900)); // not a channel: ignored
    // Now the lowest is b's 700: writes 1-699 go.
    kit.runCommand(new Topic.ChannelAt("b", 700));
    awaitStored(all - 699);
    // The topic still recovers (from its snapshot and the events after it) as it was.
    Topic.State recovered = kit.restart().state();
    assertEquals(2000, recovered.nextOffset());
    assertEquals(java.util.Set.of("a", "b"), recovered.channels().keySet());
    assertEquals(new Topic.Appended(2000, 1), append(messages("after")).reply().getValue());
  }

  @Test
  void nothingPastTheSecondLastSnapshotIsDeleted() throws Exception {
    int all = writesWithTwoChannels();
    kit.runCommand(new Topic.ChannelAt("a", 2003));
    kit.runCommand(new Topic.ChannelAt("b", 2003));
    // Snapshots at 1,000 and 2,000: recovery needs the events after the last one, and those after
    // the one before if the last cannot be read.
    awaitStored(all - 1000);
    assertEquals(2000, kit.restart().state().nextOffset());
  }

  @Test
  void aSnapshotIsStoredBesideTheWritesNotInTheirWay() throws Exception {
    SnapshotTestKit snapshots = kit.snapshotTestKit().orElseThrow();
    String id = Topic.persistenceId(topic);
    CountDownLatch stored = new CountDownLatch(1);
    // The store takes its time with this topic's snapshots until the test lets it go on.
    snapshots.withPolicy((pid, op) -> {
      if (pid.equals(id) && op instanceof WriteSnapshot) {
        try {
          if (!stored.await(20, TimeUnit.SECONDS)) throw new IllegalStateException("never let go");
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return ProcessingSuccess.getInstance();
    });
    try {
      // Write 1 creates the topic and appends (journal writes 1 and 2): append 999 is write 1,000.
      for (int i = 0; i < 999; i++) append(messages("m" + i));
      // The snapshot of write 1,000 is still being stored: the writes after it are answered all the same.
      assertEquals(new Topic.Appended(999, 1), append(messages("m999")).reply().getValue());
      assertEquals(new Topic.Appended(1000, 1), append(messages("m1000")).reply().getValue());
      assertTrue(snapshots.persistedInStorage(id).isEmpty());
    } finally {
      stored.countDown();
      snapshots.resetPolicy();
    }
    Await.until(Duration.ofSeconds(10), "the snapshot at write 1,000",
        () -> !snapshots.persistedInStorage(id).isEmpty());
    var first = snapshots.persistedInStorage(id).get(0);
    assertEquals(1000, first.first().sequenceNr());
    // The state as of write 1,000, not as the topic was when the store got to it.
    assertEquals(999, ((Topic.State) first.second()).nextOffset());

    // Two are kept: at 3,000 the one at 1,000 goes.
    for (int i = 1001; i < 2999; i++) append(messages("m" + i));
    Await.until(Duration.ofSeconds(10), "snapshots at 2,000 and 3,000 only",
        () -> snapshots.persistedInStorage(id).stream().map(p -> p.first().sequenceNr()).toList()
            .equals(List.of(2000L, 3000L)));
    assertEquals(2999, kit.restart().state().nextOffset());
  }

  @Test
  void aDeletedChannelNoLongerHoldsEvents() throws Exception {
    int all = writesWithTwoChannels();
    kit.runCommand(new Topic.ChannelAt("a", 800));
    TestProbe<StatusReply<Done>> probe = broker.testKit.createTestProbe();
    var removed = kit.runCommand(new Topic.ChannelAdmin("b", Topic.ChannelOp.DELETE, probe.ref()));
    assertEquals(1, removed.events().size());
    awaitStored(all + 1 - 799); // one more write (ChannelRemoved), 799 deleted
  }

  // ---- retention for replay -------------------------------------------------------------------

  private static final long HOUR = 3_600_000;

  /** {@code count} writes of one 10-byte message each, published at {@code at}. */
  private void writesAt(long at, int count) {
    for (int i = 0; i < count; i++) {
      append(List.of(new Published(ByteString.fromString(String.format("m%09d", i)), at, 0)));
    }
  }

  private void configure(TopicConfig config) {
    assertAck(kit.<StatusReply<Done>>runCommand(r -> new Topic.Configure(config, r)).reply());
  }

  private int stored() {
    return kit.persistenceTestKit().persistedInStorage(Topic.persistenceId(topic)).size();
  }

  /**
   * Channels a and b (writes 1-3), 1,500 writes published two hours ago (4-1503), then 1,500
   * published now (1504-3003); snapshots at 1,000, 2,000 and 3,000, so deletions may reach 2,000.
   */
  private int oldThenNewWrites() {
    assertAck(createChannel("a", true).reply());
    assertAck(createChannel("b", false).reply());
    long now = System.currentTimeMillis();
    writesAt(now - 2 * HOUR, 1500);
    writesAt(now, 1500);
    return stored();
  }

  /** Waits until at least {@code atLeast} events are gone, then checks that no more than {@code atMost} went. */
  private void awaitDeleted(int all, int atLeast, int atMost) throws Exception {
    Await.until(Duration.ofSeconds(10), atLeast + " events deleted", () -> all - stored() >= atLeast);
    assertTrue(all - stored() <= atMost, (all - stored()) + " deleted, at most " + atMost + " may be");
  }

  @Test
  void retentionByTimeKeepsYoungMessagesEveryChannelIsDoneWith() throws Exception {
    int all = oldThenNewWrites();
    configure(new TopicConfig(null, HOUR, null));
    assertEquals(new Topic.RetentionStats(HOUR, 0), stats().retention());
    kit.runCommand(new Topic.ChannelAt("a", 3004));
    kit.runCommand(new Topic.ChannelAt("b", 3004));
    // Without retention it would delete up to 2,000; the hour keeps every young write (1504 on).
    // Deletions go by stretches of at most 100 writes, so the last old stretch may stay.
    awaitDeleted(all + 1, 1403, 1503);
  }

  @Test
  void retentionByTimeNeverDeletesWhatAChannelBehindStillNeeds() throws Exception {
    int all = oldThenNewWrites();
    configure(new TopicConfig(null, HOUR, null));
    kit.runCommand(new Topic.ChannelAt("a", 3004));
    kit.runCommand(new Topic.ChannelAt("b", 600)); // behind: needs 600 and on, old or not
    awaitDeleted(all + 1, 599, 599);
  }

  @Test
  void retentionBySizeKeepsTheLatestBytes() throws Exception {
    // From the node's defaults: the latest 25,000 bytes (2,500 messages of 10 bytes, writes 504 on).
    kit = EventSourcedBehaviorTestKit.create(broker.system(),
        Topic.create(topic, BrokerTestSystem.SETTINGS.withRetention(Duration.ZERO, 25_000)));
    int all = oldThenNewWrites();
    assertEquals(new Topic.RetentionStats(0, 25_000), stats().retention());
    kit.runCommand(new Topic.ChannelAt("a", 3004));
    kit.runCommand(new Topic.ChannelAt("b", 3004));
    awaitDeleted(all, 403, 503);
    // The topic's own setting over the node's: 100 bytes keep nothing below the snapshot at 2,000.
    configure(new TopicConfig(null, null, 100L));
    assertEquals(new Topic.RetentionStats(0, 100), stats().retention());
    awaitDeleted(all + 1, 2000, 2000);
  }

  @Test
  void retentionZeroDeletesWhatEveryChannelIsDoneWithAsBefore() throws Exception {
    int all = oldThenNewWrites();
    configure(new TopicConfig(null, HOUR, null));
    configure(new TopicConfig(null, TopicConfig.NODE_DEFAULT, null)); // back to the node's 0
    kit.runCommand(new Topic.ChannelAt("a", 3004));
    kit.runCommand(new Topic.ChannelAt("b", 3004));
    awaitDeleted(all + 2, 2000, 2000);
  }

  // ---- where a new channel starts (from=) -----------------------------------------------------

  private static final long T = 1_700_000_000_000L;

  /** Topic made (1), channel c (2), then writes 3, 4, 5 of one message each, 10 s apart from T. */
  private void threeWritesTenSecondsApart() {
    assertAck(createChannel("c", true).reply());
    for (int i = 0; i < 3; i++) {
      append(List.of(new Published(ByteString.fromString("m" + i), T + 10_000L * i, 0)));
    }
  }

  private Topic.Start startOfNewChannel(String channel, ReplayFrom from) {
    assertAck(kit.<StatusReply<Done>>runCommand(r -> new Topic.CreateChannel(channel, false, from, r)).reply());
    return kit.getState().channels().get(channel);
  }

  @Test
  void aNewChannelStartsFromTheEarliestMessageKept() {
    threeWritesTenSecondsApart();
    assertEquals(new Topic.Start(0, 3), startOfNewChannel("late", ReplayFrom.EARLIEST));
    assertEquals(new Topic.Start(3, 7), startOfNewChannel("default", null), "without from: at the end");
  }

  @Test
  void aNewChannelStartsFromTheFirstMessagePublishedAtOrAfterATime() {
    threeWritesTenSecondsApart();
    assertEquals(new Topic.Start(1, 4), startOfNewChannel("t5", new ReplayFrom(ReplayFrom.Where.TIME, T + 5_000)));
    assertEquals(new Topic.Start(2, 5), startOfNewChannel("t20", new ReplayFrom(ReplayFrom.Where.TIME, T + 20_000)));
    // Nothing published since: the end, like latest.
    assertEquals(new Topic.Start(3, 8), startOfNewChannel("later", new ReplayFrom(ReplayFrom.Where.TIME, T + 60_000)));
    assertEquals(new Topic.Start(3, 9), startOfNewChannel("latest", ReplayFrom.LATEST));
    // A channel that exists stays where it is.
    assertEquals(new Topic.Start(1, 4), startOfNewChannel("t5", ReplayFrom.EARLIEST));
  }

  @Test
  void anEphemeralChannelCanStartFromTheEarliestMessageKept() {
    threeWritesTenSecondsApart();
    assertAck(kit.<StatusReply<Done>>runCommand(r -> new Topic.CreateChannel("tail#ephemeral", false, ReplayFrom.EARLIEST, r)).reply());
    Channel.Attached attached = broker.expectRouted(channelId("tail#ephemeral"), Channel.Attached.class);
    assertEquals(new Topic.Start(0, 3), attached.start());
  }

  // ---- rewind ---------------------------------------------------------------------------------

  private Channel.Rewind rewind(String channel, ReplayFrom to) {
    TestProbe<StatusReply<Done>> probe = broker.testKit.createTestProbe();
    kit.runCommand(new Topic.RewindChannel(channel, to, probe.ref()));
    return broker.expectRouted(channelId(channel), Channel.Rewind.class, r -> r.replyTo().equals(probe.ref()));
  }

  @Test
  void rewindFindsTheStartAndTellsTheChannel() {
    threeWritesTenSecondsApart();
    assertEquals(new Topic.Start(0, 3), rewind("c", ReplayFrom.EARLIEST).start());
    assertEquals(new Topic.Start(1, 4), rewind("c", new ReplayFrom(ReplayFrom.Where.TIME, T + 10_000)).start());
    assertEquals(new Topic.Start(2, 5), rewind("c", new ReplayFrom(ReplayFrom.Where.POSITION, 2)).start());
    assertEquals(new Topic.Start(3, 6), rewind("c", ReplayFrom.LATEST).start());
    assertEquals(new Topic.Start(3, 6), rewind("c", new ReplayFrom(ReplayFrom.Where.POSITION, 99)).start(), "past the end: the end");
  }

  @Test
  void rewindOfAnUnknownChannelOrTopicIsNotFound() {
    var noTopic = kit.<StatusReply<Done>>runCommand(r -> new Topic.RewindChannel("c", ReplayFrom.EARLIEST, r));
    assertError(Errors.TOPIC_NOT_FOUND, noTopic.reply());
    threeWritesTenSecondsApart();
    var noChannel = kit.<StatusReply<Done>>runCommand(r -> new Topic.RewindChannel("nope", ReplayFrom.EARLIEST, r));
    assertError(Errors.CHANNEL_NOT_FOUND, noChannel.reply());
  }

  @Test
  void aRewoundChannelHoldsRetentionFromItsNewStart() throws Exception {
    int all = writesWithTwoChannels();  // channels a (1-2) and b (3), writes 4-2003
    rewind("b", new ReplayFrom(ReplayFrom.Where.POSITION, 600)); // offset 600 is in write 604
    // b's report from before the rewind arrives after it: it cannot free what the rewind needs.
    kit.runCommand(new Topic.ChannelAt("b", 2004));
    // Without that, a at 2004 would let everything up to the snapshot at 1,000 go at once.
    kit.runCommand(new Topic.ChannelAt("a", 2004));
    awaitStored(all - 603);
  }
}
