package herald.broker;

import herald.e2e.Await;
import herald.settings.Settings;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The channel under EventSourcedBehaviorTestKit. Its topic is a recording stand-in (see
 * BrokerTestSystem): the test plays the topic by sending Channel.Attached itself and, where the
 * channel must read messages back, by writing the topic's events into the in-memory journal.
 */
class ChannelBehaviorTest {
  private static final Duration WAIT = Duration.ofSeconds(5);
  private static BrokerTestSystem broker;

  private String topic;
  private String name;

  @BeforeAll
  static void startSystem() throws Exception {
    broker = new BrokerTestSystem("channel-behavior-test");
  }

  @AfterAll
  static void stopSystem() {
    broker.shutdown();
  }

  @BeforeEach
  void names() {
    topic = BrokerTestSystem.uniqueName("orders");
    name = "archive";
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** Commands, events and state are all checked to round-trip through their serializers. */
  private EventSourcedBehaviorTestKit<Channel.Command, Channel.Event, Channel.State> kit() {
    return EventSourcedBehaviorTestKit.create(broker.system(), Channel.create(topic, name, BrokerTestSystem.SETTINGS));
  }

  private static Channel.Attached member(long startOffset, long startSeqNr, long topicNextOffset, long topicLastSeqNr) {
    return new Channel.Attached(true, new Topic.Start(startOffset, startSeqNr), topicNextOffset, topicLastSeqNr,
        false, List.of());
  }

  private static Channel.Attached notAMember() {
    return new Channel.Attached(false, null, 0, 0, false, List.of());
  }

  private static List<Published> messages(String... bodies) {
    List<Published> out = new ArrayList<>();
    long ts = 1_700_000_000_000L;
    for (String b : bodies) out.add(new Published(ByteString.fromString(b, StandardCharsets.UTF_8), ts++, 0));
    return out;
  }

  private static Channel.ChannelStats stats(EventSourcedBehaviorTestKit<Channel.Command, Channel.Event, Channel.State> kit) {
    return kit.<Channel.ChannelStats>runCommand(Channel.GetStats::new).reply();
  }

  private static List<ConsumerProtocol.Delivery> receive(TestProbe<ConsumerProtocol> consumer, int n) {
    List<ConsumerProtocol.Delivery> got = new ArrayList<>();
    while (got.size() < n) {
      got.addAll(consumer.expectMessageClass(ConsumerProtocol.Deliver.class, WAIT).messages());
    }
    assertEquals(n, got.size(), () -> "more deliveries than RDY allows: " + got);
    return got;
  }

  private static String body(ConsumerProtocol.Delivery d) {
    return d.body().decodeString(StandardCharsets.UTF_8);
  }

  private TestProbe<ConsumerProtocol> subscribe(
      EventSourcedBehaviorTestKit<Channel.Command, Channel.Event, Channel.State> kit, long rdy) {
    TestProbe<ConsumerProtocol> consumer = broker.testKit.createTestProbe(ConsumerProtocol.class);
    kit.runCommand(new Channel.Subscribe(consumer.ref(), "client-1", "127.0.0.1:4000", 60_000));
    consumer.expectMessageClass(ConsumerProtocol.Subscribed.class, WAIT);
    kit.runCommand(new Channel.Ready(consumer.ref(), rdy));
    return consumer;
  }

  private String topicPid() {
    return Topic.persistenceId(topic);
  }

  /** The topic holds {@code bodies} in its first write; the channel starts at 0 and a consumer subscribes with {@code rdy}. */
  private TestProbe<ConsumerProtocol> withMessages(
      EventSourcedBehaviorTestKit<Channel.Command, Channel.Event, Channel.State> kit, long rdy, String... bodies) {
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages(bodies))));
    kit.runCommand(member(0, 1, bodies.length, 2));
    return subscribe(kit, rdy);
  }

  // ---- start and attach -----------------------------------------------------------------------

  @Test
  void channelAsksItsTopicOnStart() {
    kit();
    Topic.Attach attach = broker.expectRouted(BrokerEntity.topicId(topic), Topic.Attach.class);
    assertEquals(name, attach.channel());
  }

  @Test
  void attachedAsMemberPersistsCreatedAtTheGivenStart() {
    var kit = kit();
    assertFalse(kit.getState().exists());

    var result = kit.runCommand(member(5, 3, 8, 4));
    assertEquals(List.of(new Channel.Created(5, 3)), result.events());
    Channel.State state = result.state();
    assertTrue(state.exists());
    assertFalse(state.paused());
    assertEquals(5, state.startOffset());
    assertEquals(5, state.cursor());
    assertEquals(3, state.cursorSeqNr());
    assertArrayEquals(new long[0], state.finished());

    Channel.ChannelStats stats = stats(kit);
    assertTrue(stats.exists());
    assertEquals(topic, stats.topic());
    assertEquals(name, stats.name());
    assertEquals(3, stats.messageCount(), "offsets 5, 6, 7 of the topic belong to the channel");
  }

  @Test
  void attachedAgainOnAnExistingChannelPersistsNothing() {
    var kit = kit();
    kit.runCommand(member(0, 1, 0, 1));
    var again = kit.runCommand(member(7, 9, 7, 9));
    assertTrue(again.hasNoEvents());
    assertEquals(0, again.state().startOffset());
  }

  @Test
  void attachedAsNonMemberOnAChannelThatExistsPersistsDeletedAndStops() {
    // The channel stops, which EventSourcedBehaviorTestKit.runCommand cannot follow (it asks the
    // stopped actor for its state): spawn it and watch the journal and the actor instead.
    kit(); // clears the in-memory journal
    PersistenceTestKit journal = PersistenceTestKit.create(broker.system());
    String pid = BrokerEntity.channelId(topic, name);
    ActorRef<Channel.Command> channel = broker.testKit.spawn(Channel.create(topic, name, BrokerTestSystem.SETTINGS));
    TestProbe<Object> watcher = broker.testKit.createTestProbe();

    channel.tell(member(0, 1, 0, 1));
    journal.expectNextPersisted(pid, new Channel.Created(0, 1));
    TestProbe<ConsumerProtocol> consumer = broker.testKit.createTestProbe(ConsumerProtocol.class);
    channel.tell(new Channel.Subscribe(consumer.ref(), "c", "127.0.0.1:1", 60_000));
    consumer.expectMessageClass(ConsumerProtocol.Subscribed.class, WAIT);

    channel.tell(notAMember());
    journal.expectNextPersisted(pid, new Channel.Deleted());
    watcher.expectTerminated(channel, WAIT);
    consumer.expectMessageClass(ConsumerProtocol.Close.class, WAIT);
    assertEquals(List.of(new Channel.Created(0, 1), new Channel.Deleted()), journal.persistedInStorage(pid));
  }

  @Test
  void attachedAsNonMemberOnAChannelThatNeverExistedStopsWithoutWriting() {
    kit();
    PersistenceTestKit journal = PersistenceTestKit.create(broker.system());
    String pid = BrokerEntity.channelId(topic, name);
    ActorRef<Channel.Command> channel = broker.testKit.spawn(Channel.create(topic, name, BrokerTestSystem.SETTINGS));
    TestProbe<Object> watcher = broker.testKit.createTestProbe();

    channel.tell(notAMember());
    watcher.expectTerminated(channel, WAIT);
    assertEquals(List.of(), journal.persistedInStorage(pid));
  }

  // ---- admin ----------------------------------------------------------------------------------

  @Test
  void setPausedPersistsPausedChangedAndAcks() {
    var kit = kit();
    kit.runCommand(member(0, 1, 0, 1));

    var paused = kit.<StatusReply<Done>>runCommand(r -> new Channel.SetPaused(true, r));
    assertEquals(List.of(new Channel.PausedChanged(true)), paused.events());
    assertTrue(paused.reply().isSuccess());
    assertEquals(Done.getInstance(), paused.reply().getValue());
    assertTrue(paused.state().paused());
    assertTrue(stats(kit).paused());

    var unpaused = kit.<StatusReply<Done>>runCommand(r -> new Channel.SetPaused(false, r));
    assertEquals(List.of(new Channel.PausedChanged(false)), unpaused.events());
    assertFalse(unpaused.state().paused());
    assertFalse(stats(kit).paused());

    // An unpause of what is not paused changes nothing and writes nothing (it is let through below
    // --min-free-space, so a loop of them must not eat the reserve).
    var again = kit.<StatusReply<Done>>runCommand(r -> new Channel.SetPaused(false, r));
    assertTrue(again.hasNoEvents());
    assertTrue(again.reply().isSuccess());
  }

  @Test
  void emptyUpToPersistsProgressAtTheOffsetAndAcks() {
    var kit = kit();
    kit.runCommand(member(0, 1, 10, 5));
    assertEquals(10, stats(kit).depth(), "ten messages of the topic are not read yet");

    var result = kit.<StatusReply<Done>>runCommand(r -> new Channel.EmptyUpTo(10, 6, r));
    assertEquals(1, result.events().size());
    Channel.Progressed progressed = (Channel.Progressed) result.events().get(0);
    assertEquals(10, progressed.cursor());
    assertEquals(6, progressed.cursorSeqNr());
    assertArrayEquals(new long[0], progressed.finished());
    assertEquals(List.of(), progressed.deferred());
    assertTrue(result.reply().isSuccess());

    Channel.State state = result.state();
    assertEquals(10, state.cursor());
    assertEquals(6, state.cursorSeqNr());
    assertEquals(0, stats(kit).depth());
  }

  @Test
  void pausedChannelDeliversNothingUntilUnpaused() {
    var kit = kit();
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages("a", "b"))));
    kit.runCommand(member(0, 1, 2, 2));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 1);
    ConsumerProtocol.Delivery first = receive(consumer, 1).get(0);
    assertEquals("a", body(first));

    kit.<StatusReply<Done>>runCommand(r -> new Channel.SetPaused(true, r));
    // Delivery runs inside the command: once the FIN is handled, a credit is free and "b" is
    // ready, yet nothing goes out while paused.
    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {first.offset()}));
    Channel.ChannelStats paused = stats(kit);
    assertTrue(paused.paused());
    assertEquals(1, paused.clients().get(0).messageCount());
    assertEquals(0, paused.inFlightCount());
    assertEquals(1, paused.depth());

    kit.<StatusReply<Done>>runCommand(r -> new Channel.SetPaused(false, r));
    assertEquals("b", body(receive(consumer, 1).get(0)));
  }

  // ---- delivery -------------------------------------------------------------------------------

  @Test
  void readsItsTopicsJournalAndDeliversWithinRdy() {
    var kit = kit();
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages("a", "b", "c"))));
    kit.runCommand(member(0, 1, 3, 2));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 2);

    List<ConsumerProtocol.Delivery> got = receive(consumer, 2);
    assertEquals(List.of(0L, 1L), got.stream().map(ConsumerProtocol.Delivery::offset).toList());
    assertEquals(List.of("a", "b"), got.stream().map(ChannelBehaviorTest::body).toList());
    assertEquals(1_700_000_000_000L, got.get(0).timestamp());
    assertEquals(1, got.get(0).attempts());

    Channel.ChannelStats stats = stats(kit);
    assertEquals(2, stats.inFlightCount());
    assertEquals(1, stats.depth());
    assertEquals(3, stats.messageCount());
    assertEquals(1, stats.clients().size());
    assertEquals(2, stats.clients().get(0).readyCount());
    assertEquals(2, stats.clients().get(0).inFlightCount());
  }

  @Test
  void finAdvancesAndPersistsTheCursorAndReqRedelivers() throws Exception {
    var kit = kit();
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages("a", "b", "c"))));
    kit.runCommand(member(0, 1, 3, 2));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 2);
    receive(consumer, 2); // offsets 0 and 1

    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {0}));
    // A credit is free again: offset 2 goes out.
    assertEquals(2, receive(consumer, 1).get(0).offset());
    // FINs are persisted in batches, on the channel's tick.
    Await.until(WAIT, "the cursor to be persisted past offset 0", () -> kit.getState().cursor() == 1);

    kit.runCommand(new Channel.Requeue(consumer.ref(), 1, 0));
    ConsumerProtocol.Delivery again = receive(consumer, 1).get(0);
    assertEquals(1, again.offset());
    assertEquals("b", body(again));
    assertEquals(2, again.attempts());
    assertEquals(1, stats(kit).requeueCount());

    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {2}));
    Await.until(WAIT, "offset 2 to be persisted as finished above the cursor",
        () -> kit.getState().cursor() == 1 && Arrays.equals(kit.getState().finished(), new long[] {2, 3}));
    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {1}));
    Await.until(WAIT, "the cursor to pass every message", () -> kit.getState().cursor() == 3);
    assertArrayEquals(new long[0], kit.getState().finished());
    assertEquals(0, stats(kit).depth());
    assertEquals(0, stats(kit).inFlightCount());
  }

  @Test
  void aWrittenCursorIsReportedToTheTopicForRetention() {
    var kit = kit();
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages("a")), new Topic.MessagesAppended(1, messages("b"))));
    kit.runCommand(member(0, 1, 2, 3));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 2);
    List<ConsumerProtocol.Delivery> got = receive(consumer, 2);
    // Write 2 holds offset 0; once it is FINed and written, nothing below write 3 is needed.
    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {got.get(0).offset()}));
    Topic.ChannelAt at = broker.expectRouted(BrokerEntity.topicId(topic), Topic.ChannelAt.class, a -> a.seqNr() == 3);
    assertEquals(name, at.channel());
    assertEquals(3, kit.getState().cursorSeqNr(), "reported only what is written");
    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {got.get(1).offset()}));
    broker.expectRouted(BrokerEntity.topicId(topic), Topic.ChannelAt.class, a -> a.seqNr() == 4);
  }

  @Test
  void aChannelTellsARestartedTopicWhereItIs() {
    var kit = kit();
    kit.runCommand(member(0, 1, 0, 1));
    assertTrue(kit.getState().exists());
    // The topic recovered and greets its channels again: this one answers with its written position.
    kit.runCommand(member(0, 1, 0, 1));
    Topic.ChannelAt at = broker.expectRouted(BrokerEntity.topicId(topic), Topic.ChannelAt.class);
    assertEquals(name, at.channel());
    assertEquals(kit.getState().cursorSeqNr(), at.seqNr());
  }

  @Test
  void finOfAMessageNotInFlightFails() {
    var kit = kit();
    kit.runCommand(member(0, 1, 0, 1));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 1);
    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {7}));
    ConsumerProtocol.Failed failed = consumer.expectMessageClass(ConsumerProtocol.Failed.class, WAIT);
    assertEquals("E_FIN_FAILED", failed.code());
    assertTrue(failed.message().contains(MessageId.of(7)), failed.message());
  }

  @Test
  void aFinBatchAppliesEveryFinAndReportsOnlyTheOnesNotInFlight() throws Exception {
    var kit = kit();
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages("a", "b", "c"))));
    kit.runCommand(member(0, 1, 3, 2));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 3);
    receive(consumer, 3);
    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {0, 9, 1}));
    ConsumerProtocol.Failed failed = consumer.expectMessageClass(ConsumerProtocol.Failed.class, WAIT);
    assertEquals("E_FIN_FAILED", failed.code());
    assertTrue(failed.message().contains(MessageId.of(9)), failed.message());
    assertEquals(1, stats(kit).inFlightCount());
    Await.until(WAIT, "the cursor to be persisted past offsets 0 and 1", () -> kit.getState().cursor() == 2);
  }

  @Test
  void afterARestartOnlyUnfinishedMessagesAreDeliveredAgain() throws Exception {
    var kit = kit();
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages("a", "b", "c", "d"))));
    kit.runCommand(member(0, 1, 4, 2));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 4);
    receive(consumer, 4);
    // Both FINs in one command, as a consumer's frame with two FIN lines arrives.
    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {0, 2}));
    Await.until(WAIT, "the FINs to be persisted",
        () -> kit.getState().cursor() == 1 && Arrays.equals(kit.getState().finished(), new long[] {2, 3}));

    // A crash: in-flight messages 1 and 3 were never FINed.
    Channel.State recovered = kit.restart().state();
    assertEquals(1, recovered.cursor());
    assertArrayEquals(new long[] {2, 3}, recovered.finished());

    kit.runCommand(member(0, 1, 4, 2));
    TestProbe<ConsumerProtocol> next = subscribe(kit, 10);
    List<ConsumerProtocol.Delivery> got = receive(next, 2);
    assertEquals(List.of(1L, 3L), got.stream().map(ConsumerProtocol.Delivery::offset).sorted().toList());
    assertEquals(List.of("b", "d"), got.stream().sorted((x, y) -> Long.compare(x.offset(), y.offset()))
        .map(ChannelBehaviorTest::body).toList());
  }

  @Test
  void aMessageNotFinishedInTimeIsDeliveredAgain() {
    var kit = kit();
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages("a"))));
    kit.runCommand(member(0, 1, 1, 2));
    TestProbe<ConsumerProtocol> consumer = broker.testKit.createTestProbe(ConsumerProtocol.class);
    kit.runCommand(new Channel.Subscribe(consumer.ref(), "slow", "127.0.0.1:4001", 200));
    consumer.expectMessageClass(ConsumerProtocol.Subscribed.class, WAIT);
    kit.runCommand(new Channel.Ready(consumer.ref(), 1));

    ConsumerProtocol.Delivery first = receive(consumer, 1).get(0);
    assertEquals(1, first.attempts());
    ConsumerProtocol.Delivery second = receive(consumer, 1).get(0);
    assertEquals(0, second.offset());
    assertEquals(2, second.attempts());
    assertTrue(stats(kit).timeoutCount() >= 1);
  }

  @Test
  void whatADeadConsumerHeldGoesToAnotherConsumer() throws Exception {
    var kit = kit();
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages("a"))));
    kit.runCommand(member(0, 1, 1, 2));
    TestProbe<ConsumerProtocol> dying = subscribe(kit, 1);
    assertEquals("a", body(receive(dying, 1).get(0)));
    TestProbe<ConsumerProtocol> other = subscribe(kit, 1);

    dying.stop();
    ConsumerProtocol.Delivery again = receive(other, 1).get(0);
    assertEquals(0, again.offset());
    assertEquals(2, again.attempts());
    Await.until(WAIT, "the dead consumer to be gone", () -> stats(kit).clients().size() == 1);
  }

  @Test
  void aDeferredPublishIsHeldUntilItsTime() {
    var kit = kit();
    long deliverAt = System.currentTimeMillis() + 300;
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1),
        new Topic.MessagesAppended(0, List.of(new Published(ByteString.fromString("later"), 1, deliverAt)))));
    kit.runCommand(member(0, 1, 1, 2));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 1);

    ConsumerProtocol.Delivery d = receive(consumer, 1).get(0);
    long receivedAt = System.currentTimeMillis();
    assertEquals("later", body(d));
    assertTrue(receivedAt >= deliverAt, "delivered " + (deliverAt - receivedAt) + " ms early");
  }

  @Test
  void aReqWithDelaySurvivesARestart() throws Exception {
    var kit = kit();
    TestProbe<ConsumerProtocol> consumer = withMessages(kit, 2, "a", "b");
    receive(consumer, 2);
    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {1}));
    long before = System.currentTimeMillis();
    kit.runCommand(new Channel.Requeue(consumer.ref(), 0, 60_000));
    assertEquals(1, stats(kit).deferredCount());

    Await.until(WAIT, "the deferral to be persisted", () -> kit.getState().deferred().size() == 1);
    Channel.State state = kit.getState();
    Channel.Deferral deferral = state.deferred().toList().get(0);
    assertEquals(0, deferral.offset());
    assertEquals(2, deferral.seqNr());
    assertEquals(1, deferral.attempts(), "delivered once before the REQ");
    assertTrue(deferral.due() >= before + 60_000 && deferral.due() <= System.currentTimeMillis() + 60_000,
        "due " + deferral.due());
    assertEquals(0, state.cursor());
    assertArrayEquals(new long[] {1, 2}, state.finished());

    Channel.State recovered = kit.restart().state();
    assertEquals(state.deferred(), recovered.deferred());
    kit.runCommand(member(0, 1, 2, 2));
    subscribe(kit, 5);
    // Read back from the journal, the message goes to the deferred queue again, not to a consumer.
    Await.until(WAIT, "the deferred message to be read back", () -> stats(kit).deferredCount() == 1);
    Channel.ChannelStats stats = stats(kit);
    assertEquals(0, stats.inFlightCount());
    assertEquals(0, stats.depth());
  }

  @Test
  void aRestoredReqDelayIsKeptWhileItsMessageIsNotReadBackYet() throws Exception {
    // mem-queue-size 4: after the restart only offsets 0-3 are read back; offset 5 waits in the journal.
    Settings small = new Settings("127.0.0.1", 0, "127.0.0.1", 0, "unused-data-path",
        Duration.ofSeconds(60), Duration.ofMinutes(15), Duration.ofHours(1),
        1024 * 1024, 5 * 1024 * 1024, 2500, 4, "leveldb", "", "127.0.0.1:4151", Duration.ofMinutes(2), 100_000);
    var kit = EventSourcedBehaviorTestKit.<Channel.Command, Channel.Event, Channel.State>create(
        broker.system(), Channel.create(topic, name, small));
    List<Object> writes = new ArrayList<>(List.of(new Topic.TopicCreated(1)));
    for (int i = 0; i < 6; i++) writes.add(new Topic.MessagesAppended(i, messages("m" + i)));
    kit.persistenceTestKit().persistForRecovery(topicPid(), writes);
    kit.runCommand(member(0, 1, 6, 7));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 6);
    receive(consumer, 6);
    kit.runCommand(new Channel.Requeue(consumer.ref(), 5, 60_000));
    Await.until(WAIT, "the deferral to be persisted", () -> kit.getState().deferred().size() == 1);
    long due = kit.getState().deferred().get(5).due();

    kit.restart();
    kit.runCommand(member(0, 1, 6, 7));
    TestProbe<ConsumerProtocol> again = subscribe(kit, 1);
    assertEquals(0, receive(again, 1).get(0).offset());
    kit.runCommand(new Channel.Ready(again.ref(), 0)); // no more deliveries, so no more reads
    // A progress write while offset 5 is still unread must keep its delay.
    kit.runCommand(new Channel.Requeue(again.ref(), 0, 60_000));
    Await.until(WAIT, "both deferrals to be persisted", () -> kit.getState().deferred().size() == 2);
    Channel.Deferral kept = kit.getState().deferred().get(5);
    assertEquals(due, kept.due());
    assertEquals(1, stats(kit).deferredCount(), "offset 5 was not read back: only offset 0 is deferred in memory");
  }

  /** The test settings with another --mem-queue-size. */
  private static Settings memQueueSize(int messages) {
    Settings s = BrokerTestSystem.SETTINGS;
    return new Settings(s.httpHost(), s.httpPort(), s.clusterHost(), s.clusterPort(),
        s.dataPath(), s.msgTimeout(), s.maxMsgTimeout(), s.maxReqTimeout(), s.maxMsgSize(), s.maxBodySize(),
        s.maxRdyCount(), messages, s.journal(), s.join(), s.advertisedHttp(), s.dedupWindow(), s.dedupMaxIds());
  }

  @Test
  void aChannelThatFallsBehindStopsTakingPushesAndReadsThemBackFromTheJournal() {
    // A ready buffer of one message: the second push that does not fit switches the channel to
    // reading the topic's journal, and nothing is lost or delivered twice.
    var kit = EventSourcedBehaviorTestKit.<Channel.Command, Channel.Event, Channel.State>create(broker.system(),
        Channel.create(topic, name, memQueueSize(1)), EventSourcedBehaviorTestKit.enabledSerializationSettings());
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages("a"))));
    kit.runCommand(member(0, 1, 1, 2));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 1);
    ConsumerProtocol.Delivery a = receive(consumer, 1).get(0);
    assertEquals("a", body(a));

    // The consumer has no credit left: "b" waits in the ready buffer, which is then full.
    Topic.MessagesAppended b = new Topic.MessagesAppended(1, messages("b"));
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(b));
    kit.runCommand(new Channel.Push(3, b));
    Topic.MessagesAppended c = new Topic.MessagesAppended(2, messages("c"));
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(c));
    kit.runCommand(new Channel.Push(4, c));
    assertEquals(2, stats(kit).depth(), "one message buffered, one left in the journal");

    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {a.offset()}));
    ConsumerProtocol.Delivery second = receive(consumer, 1).get(0);
    assertEquals("b", body(second));
    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {second.offset()}));
    ConsumerProtocol.Delivery third = receive(consumer, 1).get(0);
    assertEquals("c", body(third));
    assertEquals(2, third.offset());
    assertEquals(1, third.attempts());
    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {third.offset()}));
    Channel.ChannelStats stats = stats(kit);
    assertEquals(0, stats.depth());
    assertEquals(0, stats.inFlightCount());
    assertEquals(3, stats.clients().get(0).messageCount(), "each message went out once");
  }

  @Test
  void pushesAroundTheFirstReadAreAllDeliveredInOrder() {
    var kit = kit();
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages("a", "b"))));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 10);
    kit.runCommand(member(0, 1, 2, 2));
    // The read of writes 1-2 starts; writes 3-42 are only pushed (the journal here never has them):
    // each must be taken live or, if it lands while the read runs, right after it.
    List<String> expected = new ArrayList<>(List.of("a", "b"));
    for (int i = 0; i < 40; i++) {
      kit.runCommand(new Channel.Push(3 + i, new Topic.MessagesAppended(2 + i, messages("p" + i))));
      expected.add("p" + i);
    }
    kit.runCommand(new Channel.Ready(consumer.ref(), 100));
    List<ConsumerProtocol.Delivery> got = receive(consumer, 42);
    assertEquals(expected, got.stream().map(ChannelBehaviorTest::body).toList());
  }

  @Test
  void livePushIsDelivered() {
    var kit = kit();
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages("a"))));
    kit.runCommand(member(0, 1, 1, 2));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 10);
    assertEquals(0, receive(consumer, 1).get(0).offset());

    // The topic writes, then pushes: the same batch is in the journal and in the push.
    Topic.MessagesAppended batch = new Topic.MessagesAppended(1, messages("b", "c"));
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(batch));
    kit.runCommand(new Channel.Push(3, batch));
    List<ConsumerProtocol.Delivery> got = receive(consumer, 2);
    assertEquals(List.of(1L, 2L), got.stream().map(ConsumerProtocol.Delivery::offset).toList());
    assertEquals(List.of("b", "c"), got.stream().map(ChannelBehaviorTest::body).toList());
  }

  @Test
  void attemptsAreWrittenWithProgressAndContinueAfterARestart() throws Exception {
    var kit = kit();
    TestProbe<ConsumerProtocol> consumer = withMessages(kit, 2, "a", "b");
    assertEquals(List.of(1, 1), receive(consumer, 2).stream().map(ConsumerProtocol.Delivery::attempts).toList());
    for (int attempt = 2; attempt <= 3; attempt++) {
      kit.runCommand(new Channel.Requeue(consumer.ref(), 0, 0));
      ConsumerProtocol.Delivery d = receive(consumer, 1).get(0);
      assertEquals(0, d.offset());
      assertEquals(attempt, d.attempts());
    }
    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {1}));
    // Offset 0 went out three times; no delivery was a write of its own, the progress carries them.
    Await.until(WAIT, "the attempts to be persisted",
        () -> Arrays.equals(kit.getState().attempts(), new long[] {0, 1, 3}));

    kit.restart();
    kit.runCommand(member(0, 1, 2, 2));
    TestProbe<ConsumerProtocol> next = subscribe(kit, 2);
    ConsumerProtocol.Delivery again = receive(next, 1).get(0);
    assertEquals(0, again.offset());
    assertEquals(4, again.attempts(), "the fourth delivery of offset 0");
  }

  @Test
  void aDeferredMessageIsReadBackFromTheJournalWhenDue() {
    var kit = kit();
    TestProbe<ConsumerProtocol> consumer = withMessages(kit, 2, "a", "b");
    receive(consumer, 2);
    kit.runCommand(new Channel.Requeue(consumer.ref(), 1, 300));
    assertEquals(1, stats(kit).deferredCount());
    ConsumerProtocol.Delivery again = receive(consumer, 1).get(0);
    assertEquals(1, again.offset());
    assertEquals("b", body(again), "the body comes back from the topic's journal");
    assertEquals(2, again.attempts());
    assertEquals(0, stats(kit).deferredCount());
  }

  // ---- dead letters ---------------------------------------------------------------------------

  private void configure(EventSourcedBehaviorTestKit<Channel.Command, Channel.Event, Channel.State> kit, int maxAttempts) {
    var result = kit.<StatusReply<Done>>runCommand(r -> new Channel.Configure(new ChannelConfig(maxAttempts, null), r));
    assertTrue(result.reply().isSuccess());
    assertEquals(List.of(new Channel.Configured(new ChannelConfig(maxAttempts, null))), result.events());
  }

  private String deadLetterTopicId() {
    return BrokerEntity.topicId(ChannelConfig.defaultDeadLetterTopic(topic, name));
  }

  /** The n-th Append that reached the dead-letter topic. */
  private Topic.Append deadLetterAppend(int n) throws Exception {
    Await.until(WAIT, n + " appends to the dead-letter topic",
        () -> broker.routedTo(deadLetterTopicId()).stream().filter(Topic.Append.class::isInstance).count() >= n);
    return (Topic.Append) broker.routedTo(deadLetterTopicId()).stream().filter(Topic.Append.class::isInstance)
        .skip(n - 1).findFirst().orElseThrow();
  }

  private static void stored(Topic.Append append) {
    append.replyTo().tell(StatusReply.success(new Topic.Appended(0, append.messages().size())));
  }

  @Test
  void aMessageWhoseLastAttemptFailsIsPublishedToTheDeadLetterTopicAndFinished() throws Exception {
    var kit = kit();
    configure(kit, 2);
    TestProbe<ConsumerProtocol> consumer = withMessages(kit, 1, "a", "b");
    assertEquals("a", body(receive(consumer, 1).get(0)));
    kit.runCommand(new Channel.Requeue(consumer.ref(), 0, 0));
    assertEquals("b", body(receive(consumer, 1).get(0)));
    kit.runCommand(new Channel.Finish(consumer.ref(), new long[] {1}));
    ConsumerProtocol.Delivery last = receive(consumer, 1).get(0);
    assertEquals(2, last.attempts());
    kit.runCommand(new Channel.Requeue(consumer.ref(), 0, 0));

    Topic.Append append = deadLetterAppend(1);
    assertArrayEquals(new long[] {0, 1, 2}, kit.getState().attempts(),
        "published only after the write that carries its last attempt");
    assertEquals(1, append.messages().size());
    Published copy = append.messages().get(0);
    assertEquals("a", copy.body().utf8String());
    assertEquals(DedupId.ofPosition(topic, name, 0), copy.dedupId());

    stored(append);
    Await.until(WAIT, "the dead letter to be finished and written",
        () -> kit.getState().cursor() == 2 && kit.getState().deadLettered() == 1);
    Channel.ChannelStats stats = stats(kit);
    assertEquals(1, stats.deadLetterCount());
    assertEquals(2, stats.maxAttempts());
    assertEquals(topic + "." + name + ".dead", stats.deadLetterTopic());
    assertEquals(0, stats.depth());
    assertEquals(0, stats.inFlightCount());
  }

  @Test
  void aMessageThatTimesOutForTheLastTimeIsDeadLettered() throws Exception {
    var kit = kit();
    configure(kit, 1);
    kit.persistenceTestKit().persistForRecovery(topicPid(), List.<Object>of(
        new Topic.TopicCreated(1), new Topic.MessagesAppended(0, messages("slow"))));
    kit.runCommand(member(0, 1, 1, 2));
    TestProbe<ConsumerProtocol> consumer = broker.testKit.createTestProbe(ConsumerProtocol.class);
    kit.runCommand(new Channel.Subscribe(consumer.ref(), "slow", "127.0.0.1:4001", 200));
    consumer.expectMessageClass(ConsumerProtocol.Subscribed.class, WAIT);
    kit.runCommand(new Channel.Ready(consumer.ref(), 1));
    assertEquals(1, receive(consumer, 1).get(0).attempts());
    Topic.Append append = deadLetterAppend(1);
    assertEquals("slow", append.messages().get(0).body().utf8String());
    stored(append);
    Await.until(WAIT, "the dead letter to be counted", () -> stats(kit).deadLetterCount() == 1);
    assertEquals(1, stats(kit).timeoutCount());
    consumer.expectNoMessage(Duration.ofMillis(300)); // a timed-out delivery would come back within 200 ms
  }

  /** REQs every message delivered until none comes within {@code quiet}; their offsets. */
  private static List<Long> requeueWhatArrives(
      EventSourcedBehaviorTestKit<Channel.Command, Channel.Event, Channel.State> kit, TestProbe<ConsumerProtocol> consumer,
      Duration quiet) {
    List<Long> offsets = new ArrayList<>();
    while (true) {
      ConsumerProtocol m;
      try {
        m = consumer.receiveMessage(quiet);
      } catch (AssertionError none) {
        return offsets;
      }
      for (ConsumerProtocol.Delivery d : ((ConsumerProtocol.Deliver) m).messages()) {
        offsets.add(d.offset());
        kit.runCommand(new Channel.Requeue(consumer.ref(), d.offset(), 0));
      }
    }
  }

  @Test
  void deadLettersThatWaitCountAgainstTheMemQueueSize() {
    // Twenty writes of one message, mem-queue-size 4, one attempt each, and a dead-letter topic that
    // does not answer yet (as one below --min-free-space is not published to): the dead letters
    // wait in the channel with their bodies, and it reads no further while they fill its bound.
    var kit = EventSourcedBehaviorTestKit.<Channel.Command, Channel.Event, Channel.State>create(
        broker.system(), Channel.create(topic, name, memQueueSize(4)));
    configure(kit, 1);
    List<Object> writes = new ArrayList<>(List.of(new Topic.TopicCreated(1)));
    for (int i = 0; i < 20; i++) writes.add(new Topic.MessagesAppended(i, messages("m" + i)));
    kit.persistenceTestKit().persistForRecovery(topicPid(), writes);
    kit.runCommand(member(0, 1, 20, 21));
    TestProbe<ConsumerProtocol> consumer = subscribe(kit, 4);
    List<Long> delivered = new ArrayList<>(requeueWhatArrives(kit, consumer, Duration.ofMillis(500)));
    // A read starts while at most 2 (half the bound) wait and takes at most 4 and one write more;
    // at most 4 (RDY) are in flight meanwhile. Without the bound all 20 came.
    assertTrue(!delivered.isEmpty() && delivered.size() <= 11, () -> "delivered while dead letters wait: " + delivered);

    // The dead-letter topic answers: what waited is finished, and the channel reads on.
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    int answered = 0;
    while (kit.getState().deadLettered() < 20) {
      assertTrue(System.nanoTime() < deadline, () -> "all 20 dead-lettered; delivered " + delivered);
      List<Object> appends = broker.routedTo(deadLetterTopicId()).stream().filter(Topic.Append.class::isInstance).toList();
      for (; answered < appends.size(); answered++) stored((Topic.Append) appends.get(answered));
      delivered.addAll(requeueWhatArrives(kit, consumer, Duration.ofMillis(100)));
    }
    assertEquals(LongStream.range(0, 20).boxed().toList(), delivered.stream().sorted().toList(), "each delivered once");
    assertEquals(20, kit.getState().cursor());
  }

  @Test
  void afterACrashBeforeItWasFinishedADeadLetterIsPublishedAgainUnderTheSameIdNotDelivered() throws Exception {
    var kit = kit();
    configure(kit, 1);
    TestProbe<ConsumerProtocol> consumer = withMessages(kit, 1, "a");
    receive(consumer, 1);
    kit.runCommand(new Channel.Requeue(consumer.ref(), 0, 0));
    Topic.Append first = deadLetterAppend(1);
    // A crash before the topic's answer: the channel never learnt that it is stored.

    kit.restart();
    kit.runCommand(member(0, 1, 1, 2));
    TestProbe<ConsumerProtocol> next = subscribe(kit, 10);
    Topic.Append again = deadLetterAppend(2);
    assertEquals(first.messages().get(0).dedupId(), again.messages().get(0).dedupId(),
        "the same id: the dead-letter topic stores it once");
    stored(again);
    Await.until(WAIT, "the dead letter to be finished", () -> kit.getState().cursor() == 1);
    next.expectNoMessage(Duration.ofMillis(300)); // it went to the dead-letter topic, never to a consumer
  }
}
