package herald.broker;

import herald.settings.Settings;
import org.apache.pekko.Done;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Idempotent publish in the topic: a message whose dedup id the topic stored within its window is
 * answered as stored and not stored again. Time is the messages' publish timestamps, so the window
 * is tested without waiting for it.
 */
class TopicDedupTest {
  private static final long T0 = 1_700_000_000_000L;
  private static final long WINDOW = BrokerTestSystem.SETTINGS.dedupWindow().toMillis();
  private static BrokerTestSystem broker;

  @BeforeAll
  static void startSystem() throws Exception {
    broker = new BrokerTestSystem("topic-dedup-test");
  }

  @AfterAll
  static void stopSystem() {
    broker.shutdown();
  }

  private static EventSourcedBehaviorTestKit<Topic.Command, Topic.Event, Topic.State> kit(Settings settings) {
    // Commands, events and state are all checked to round-trip through their serializers.
    return EventSourcedBehaviorTestKit.create(broker.system(),
        Topic.create(BrokerTestSystem.uniqueName("orders"), settings));
  }

  private static EventSourcedBehaviorTestKit<Topic.Command, Topic.Event, Topic.State> kit() {
    return kit(BrokerTestSystem.SETTINGS);
  }

  private static Published message(String body, long at, String id) {
    return new Published(ByteString.fromString(body), at, 0, id);
  }

  private static EventSourcedBehaviorTestKit.CommandResultWithReply<Topic.Command, Topic.Event, Topic.State, StatusReply<Topic.Appended>>
      append(EventSourcedBehaviorTestKit<Topic.Command, Topic.Event, Topic.State> kit, Published... messages) {
    return kit.runCommand(r -> new Topic.Append(List.of(messages), r));
  }

  private static Topic.DedupStats dedup(EventSourcedBehaviorTestKit<Topic.Command, Topic.Event, Topic.State> kit) {
    return kit.<Topic.TopicStats>runCommand(Topic.GetStats::new).reply().dedup();
  }

  private static long stored(EventSourcedBehaviorTestKit<Topic.Command, Topic.Event, Topic.State> kit) {
    return kit.<Topic.TopicStats>runCommand(Topic.GetStats::new).reply().messageCount();
  }

  @Test
  void theSameIdTwiceIsStoredOnceAndAnsweredAsStored() {
    var kit = kit();
    Published first = message("pay 10", T0, "invoice-1");
    assertEquals(List.of(new Topic.TopicCreated(1), new Topic.MessagesAppended(0, List.of(first))),
        append(kit, first).events());

    var retry = append(kit, message("pay 10", T0 + 1000, "invoice-1"));
    assertTrue(retry.hasNoEvents(), "a duplicate is not written");
    assertTrue(retry.reply().isSuccess());
    assertEquals(new Topic.Appended(1, 0, List.of(0)), retry.reply().getValue());
    assertEquals(1, stored(kit));
    assertEquals(new Topic.DedupStats(WINDOW, 1, 1, 0), dedup(kit));
  }

  @Test
  void messagesWithoutAnIdAreNeverDuplicates() {
    var kit = kit();
    append(kit, message("a", T0, null));
    var again = append(kit, message("a", T0, null), message("a", T0, null));
    assertEquals(new Topic.Appended(1, 2), again.reply().getValue());
    assertEquals(3, stored(kit));
  }

  @Test
  void theSameIdTwiceInOneWriteIsStoredOnce() {
    // The group commit puts many publishes in one write: the second of two with one id is the duplicate.
    var kit = kit();
    append(kit, message("old", T0, "o"));
    Published x = message("x", T0 + 1, "x");
    Published y = message("y", T0 + 1, "y");
    var result = append(kit, x, message("o again", T0 + 1, "o"), y, message("x again", T0 + 1, "x"));
    assertEquals(List.of(new Topic.MessagesAppended(1, List.of(x, y))), result.events());
    assertEquals(new Topic.Appended(1, 2, List.of(1, 3)), result.reply().getValue());
    assertEquals(3, stored(kit));
    assertEquals(2, dedup(kit).duplicates());
  }

  @Test
  void afterTheWindowTheIdIsStoredAgain() {
    var kit = kit();
    append(kit, message("a", T0, "k"));
    assertTrue(append(kit, message("a", T0 + WINDOW - 1, "k")).hasNoEvents(), "still inside the window");
    var after = append(kit, message("a", T0 + WINDOW, "k"));
    assertEquals(1, after.events().size(), "the window has passed: stored again");
    assertEquals(2, stored(kit));
    // And the new copy opens a new window.
    assertTrue(append(kit, message("a", T0 + WINDOW + 1, "k")).hasNoEvents());
  }

  @Test
  void theTopicsOwnWindowOverridesTheNodes() {
    var kit = kit();
    var missing = kit.<StatusReply<Done>>runCommand(r -> new Topic.Configure(new TopicConfig(1000L), r));
    assertTrue(missing.hasNoEvents());
    assertEquals(Errors.TOPIC_NOT_FOUND, missing.reply().getError().getMessage());

    append(kit, message("a", T0, "k"));
    var set = kit.<StatusReply<Done>>runCommand(r -> new Topic.Configure(new TopicConfig(1000L), r));
    assertEquals(List.of(new Topic.TopicConfigured(new TopicConfig(1000L))), set.events());
    assertTrue(set.reply().isSuccess());
    assertEquals(1000, dedup(kit).windowMs());
    assertTrue(append(kit, message("a", T0 + 999, "k")).hasNoEvents());
    assertEquals(1, append(kit, message("a", T0 + 1000, "k")).events().size());

    // The setting is part of what the topic persists.
    assertEquals(new TopicConfig(1000L), kit.restart().state().config());
    var again = kit.<StatusReply<Done>>runCommand(r -> new Topic.Configure(new TopicConfig(1000L), r));
    assertTrue(again.hasNoEvents(), "no change, no write");

    var reset = kit.<StatusReply<Done>>runCommand(r -> new Topic.Configure(new TopicConfig(TopicConfig.NODE_DEFAULT), r));
    assertEquals(List.of(new Topic.TopicConfigured(TopicConfig.DEFAULT)), reset.events());
    assertEquals(WINDOW, dedup(kit).windowMs());
  }

  @Test
  void aWindowOfZeroTurnsDedupOff() {
    var kit = kit();
    append(kit, message("a", T0, "k"));
    kit.<StatusReply<Done>>runCommand(r -> new Topic.Configure(new TopicConfig(0L), r));
    assertEquals(1, append(kit, message("a", T0 + 1, "k")).events().size());
    assertEquals(1, append(kit, message("a", T0 + 2, "k"), message("a", T0 + 2, "k")).events().size());
    assertEquals(4, stored(kit));
    assertEquals(0, dedup(kit).ids());
  }

  @Test
  void pastTheCountLimitTheOldestIdsAreForgottenEarly() {
    Settings s = BrokerTestSystem.SETTINGS;
    Settings three = new Settings(s.httpHost(), s.httpPort(), s.clusterHost(), s.clusterPort(),
        s.dataPath(), s.msgTimeout(), s.maxMsgTimeout(), s.maxReqTimeout(), s.maxMsgSize(), s.maxBodySize(),
        s.maxRdyCount(), s.memQueueSize(), s.journal(), s.join(), s.advertisedHttp(), s.dedupWindow(), 3);
    var kit = kit(three);
    append(kit, message("a", T0, "a"), message("b", T0 + 1, "b"), message("c", T0 + 2, "c"));
    assertEquals(new Topic.DedupStats(WINDOW, 3, 0, 0), dedup(kit));
    append(kit, message("d", T0 + 3, "d"));
    assertEquals(new Topic.DedupStats(WINDOW, 3, 0, 1), dedup(kit), "a was forgotten before its window ended");

    assertTrue(append(kit, message("b", T0 + 4, "b")).hasNoEvents(), "b, c and d are still remembered");
    assertEquals(1, append(kit, message("a", T0 + 5, "a")).events().size(), "a is stored again: the limit's cost");
    assertEquals(5, stored(kit));
  }

  @Test
  void idsSurviveARestartFromEventsAndFromASnapshot() {
    var kit = kit();
    append(kit, message("a", T0, "first"));
    kit.restart();
    assertTrue(append(kit, message("a", T0 + 1, "first")).hasNoEvents(), "replayed from the events");

    // A snapshot every 1,000 writes: recovery then starts from the snapshot, which must hold the ids.
    for (int i = 0; i < 1000; i++) append(kit, message("m" + i, T0 + 2 + i, "id-" + i));
    Topic.State recovered = kit.restart().state();
    assertEquals(1001, recovered.ids().size());
    assertTrue(append(kit, message("a", T0 + 2000, "first")).hasNoEvents());
    assertTrue(append(kit, message("m7", T0 + 2000, "id-7")).hasNoEvents());
    assertEquals(1001, stored(kit));
  }

  @Test
  void aDeletedTopicForgetsItsIds() {
    var kit = kit();
    append(kit, message("a", T0, "k"));
    kit.<StatusReply<Done>>runCommand(Topic.Delete::new);
    assertEquals(2, append(kit, message("a", T0 + 1, "k")).events().size(), "created again, and stored");
  }

  @Test
  void aNodesOwnKeyForAPositionIsDeduplicatedLikeAClientId() {
    // Dead-lettering publishes through the same Append, keyed by the message's source position.
    var kit = kit();
    String key = DedupId.ofPosition("orders", "billing", 42);
    append(kit, message("dead", T0, key));
    assertTrue(append(kit, message("dead", T0 + 1, key)).hasNoEvents());
    assertEquals(1, append(kit, message("dead", T0 + 1, DedupId.ofPosition("orders", "billing", 43))).events().size());
    assertTrue(DedupId.problem(key) != null, "no client can send a position key");
  }

  @Test
  void clientIdsAreOneTo64VisibleAsciiCharacters() {
    assertEquals(null, DedupId.problem("a"));
    assertEquals(null, DedupId.problem("x".repeat(64)));
    assertEquals(null, DedupId.problem("!~order/2026-12-01#7"));
    assertEquals("MSG_ID_TOO_LONG", DedupId.problem("x".repeat(65)));
    assertEquals("INVALID_MSG_ID", DedupId.problem(""));
    assertEquals("INVALID_MSG_ID", DedupId.problem("has space"));
    assertEquals("INVALID_MSG_ID", DedupId.problem("tab\t"));
    assertEquals("INVALID_MSG_ID", DedupId.problem("é"));
    assertEquals("INVALID_MSG_ID", DedupId.problem("\u007f"));
  }
}
