package herald.broker;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.ConfigFactory;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.apache.pekko.serialization.jackson.JacksonCborSerializer;
import org.apache.pekko.serialization.jackson.JacksonObjectMapperProvider;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.NotSerializableException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MessagesAppendedSerializerTest {
  private static ActorTestKit testKit;
  private static Serialization serialization;

  @BeforeAll
  static void start() {
    // The project's application.conf (and its serialization.conf), but a local actor system: no
    // cluster, and nothing here touches persistence, so the LevelDB journal is never started.
    testKit = ActorTestKit.create("serializer-test",
        ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load()));
    serialization = SerializationExtension.get(testKit.system());
  }

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  private static final MessagesAppendedSerializer SERIALIZER = new MessagesAppendedSerializer();

  private static Topic.MessagesAppended sample() {
    byte[] binary = new byte[256];
    for (int i = 0; i < binary.length; i++) binary[i] = (byte) i;
    return new Topic.MessagesAppended(1L << 40, List.of(
        new Published(ByteString.fromString("hello", StandardCharsets.UTF_8), 1_700_000_000_000L, 0),
        new Published(ByteString.emptyByteString(), 1, 0),
        new Published(ByteString.fromArray(new byte[] {0}), Long.MAX_VALUE, Long.MIN_VALUE),
        new Published(ByteString.fromArray(binary), 1_700_000_000_001L, 1_700_000_060_000L),
        new Published(ByteString.fromString("héllo\nwörld", StandardCharsets.UTF_8), -5, 42)));
  }

  private static Topic.MessagesAppended roundTrip(Topic.MessagesAppended e) throws Exception {
    byte[] bytes = SERIALIZER.toBinary(e);
    return (Topic.MessagesAppended) SERIALIZER.fromBinary(bytes, SERIALIZER.manifest(e));
  }

  @Test
  void roundTripKeepsOffsetsTimestampsDeliverAtAndBodies() throws Exception {
    Topic.MessagesAppended e = sample();
    Topic.MessagesAppended back = roundTrip(e);
    assertEquals(e, back);
    assertEquals(e.firstOffset(), back.firstOffset());
    assertEquals(e.nextOffset(), back.nextOffset());
    for (int i = 0; i < e.messages().size(); i++) {
      Published want = e.messages().get(i);
      Published got = back.messages().get(i);
      assertArrayEquals(want.body().toArray(), got.body().toArray(), "body " + i);
      assertEquals(want.timestamp(), got.timestamp(), "timestamp " + i);
      assertEquals(want.deliverAt(), got.deliverAt(), "deliverAt " + i);
    }
  }

  @Test
  void roundTripOfAnEmptyBatch() throws Exception {
    Topic.MessagesAppended e = new Topic.MessagesAppended(7, List.of());
    assertEquals(e, roundTrip(e));
  }

  @Test
  void bodyOfACompactedSliceRoundTrips() throws Exception {
    // A body that is a slice of a larger ByteString (as /mpub produces) must be written alone.
    ByteString whole = ByteString.fromString("aaaBODYzzz", StandardCharsets.US_ASCII);
    Topic.MessagesAppended e = new Topic.MessagesAppended(0, List.of(new Published(whole.slice(3, 7), 9, 0)));
    Topic.MessagesAppended back = roundTrip(e);
    assertEquals("BODY", back.messages().get(0).body().decodeString(StandardCharsets.US_ASCII));
  }

  @Test
  void layoutIsTheDocumentedBigEndianOne() {
    Topic.MessagesAppended e = new Topic.MessagesAppended(0x0102030405060708L, List.of(
        new Published(ByteString.fromArray(new byte[] {9, 8, 7}), 11, 22)));
    ByteBuffer buf = ByteBuffer.wrap(SERIALIZER.toBinary(e));
    assertEquals(8 + 4 + 8 + 8 + 4 + 3, buf.remaining());
    assertEquals(0x0102030405060708L, buf.getLong());
    assertEquals(1, buf.getInt());
    assertEquals(11, buf.getLong());
    assertEquals(22, buf.getLong());
    assertEquals(3, buf.getInt());
    assertEquals(9, buf.get());
    assertEquals(8, buf.get());
    assertEquals(7, buf.get());
  }

  @Test
  void identifierAndManifest() {
    assertEquals(4151, SERIALIZER.identifier());
    assertEquals("MA1", SERIALIZER.manifest(sample()));
  }

  @Test
  void unknownManifestIsNotSerializable() {
    byte[] bytes = SERIALIZER.toBinary(sample());
    assertThrows(NotSerializableException.class, () -> SERIALIZER.fromBinary(bytes, "MA3"));
    assertThrows(NotSerializableException.class, () -> SERIALIZER.fromBinary(bytes, ""));
  }

  // ---- through Pekko's Serialization extension, with the project's config ---------------------

  @Test
  void messagesAppendedIsBoundToThisSerializer() throws Exception {
    Topic.MessagesAppended e = sample();
    Serializer s = serialization.findSerializerFor(e);
    assertInstanceOf(MessagesAppendedSerializer.class, s);
    assertEquals(4151, s.identifier());
    byte[] bytes = serialization.serialize(e).get();
    Object back = serialization.deserialize(bytes, s.identifier(), Serializers.manifestFor(s, e)).get();
    assertEquals(e, back);
  }

  @Test
  void otherTopicEventsUseJacksonCbor() {
    Serializer s = serialization.findSerializerFor(new Topic.ChannelAdded("c", 1, 2));
    assertEquals("jackson-cbor", serializerName(s));
    assertNotEquals(4151, s.identifier());
  }

  @Test
  void topicEventsRoundTripThroughCbor() {
    for (Object e : List.of(
        new Topic.ChannelAdded("archive", 17, 5),
        new Topic.TopicCreated(3),
        new Topic.TopicDeleted(),
        new Topic.TopicPaused(true),
        new Topic.ChannelRemoved("archive", 9),
        new Topic.BacklogStarted(12))) {
      assertEquals(e, viaExtension(e), e.toString());
    }
  }

  @Test
  void channelProgressedRoundTripsThroughCbor() {
    Channel.Progressed p = new Channel.Progressed(100, 7, new long[] {102, 105, 110, 111},
        List.of(new Channel.Deferral(101, 7, 1_700_000_000_000L, 2), new Channel.Deferral(106, 8, 5, 1)),
        new long[] {100, 101, 3}, 4,
        new Deferrals(List.of(new Channel.Deferral(120, 9, 1_700_000_060_000L, 3),
            new Channel.Deferral(107, 8, 1_700_000_000_001L, 1))),
        new long[] {108, 110});
    assertEquals("jackson-cbor", serializerName(serialization.findSerializerFor(p)));
    Channel.Progressed back = (Channel.Progressed) viaExtension(p);
    // A record with an array field: compare the fields, not equals().
    assertEquals(p.cursor(), back.cursor());
    assertEquals(p.cursorSeqNr(), back.cursorSeqNr());
    assertArrayEquals(p.finished(), back.finished());
    assertEquals(p.deferred(), back.deferred());
    assertArrayEquals(p.attempts(), back.attempts());
    assertEquals(p.deadLettered(), back.deadLettered());
    assertEquals(p.deferredNow(), back.deferredNow());
    assertArrayEquals(p.deferralsEnded(), back.deferralsEnded());
  }

  @Test
  void aMillionDeferralsAreWrittenInAFewBytesEach() throws Exception {
    Deferrals many = new Deferrals();
    long due = 1_700_000_000_000L;
    for (int i = 0; i < 1_000_000; i++) many.put(new Channel.Deferral(5_000 + i, 10 + i / 100, due + i / 7, 1 + i % 3));
    Channel.State state = new Channel.State(true, false, 0, 5_000, 10, new long[0], many, new long[0], 0,
        ChannelConfig.NONE);
    byte[] bytes = serialization.serialize(state).get();
    assertTrue(bytes.length < 6_000_000, bytes.length + " bytes");
    Channel.State back = (Channel.State) viaExtension(state);
    assertEquals(many, back.deferred());
  }

  @Test
  void aSnapshotWithDeferralsOfTheOlderFormIsRead() throws Exception {
    // Written before deferrals carried attempts: a list of objects.
    Channel.State older = new Channel.State(true, false, 0, 5, 2, new long[0],
        new Deferrals(List.of(new Channel.Deferral(6, 2, 9_000, 0))), new long[0], 0, ChannelConfig.NONE);
    ObjectMapper cbor = JacksonObjectMapperProvider.get(testKit.system()).getOrCreate("jackson-cbor", Optional.empty());
    var tree = cbor.valueToTree(older);
    var list = cbor.createArrayNode();
    list.addObject().put("offset", 6).put("seqNr", 2).put("due", 9_000);
    ((ObjectNode) tree).set("deferred", list);
    Channel.State back = cbor.treeToValue(tree, Channel.State.class);
    assertEquals(List.of(new Channel.Deferral(6, 2, 9_000, 0)), back.deferred().toList());
  }

  @Test
  void otherChannelEventsRoundTripThroughCbor() {
    for (Object e : List.of(new Channel.Created(4, 2), new Channel.PausedChanged(true), new Channel.Deleted())) {
      assertEquals(e, viaExtension(e), e.toString());
    }
  }

  @Test
  void commandsCarryingBodiesRoundTripThroughCbor() {
    // Bodies cross nodes inside these: publish to a remote topic, push, deliver to a remote consumer.
    ActorRef<StatusReply<Topic.Appended>> appended = testKit.<StatusReply<Topic.Appended>>createTestProbe().ref();
    List<Published> messages = List.of(
        new Published(ByteString.fromArray(new byte[] {0, (byte) 0xff, 10}), 5, 0),
        new Published(ByteString.fromString("hello"), 6, 99));
    Topic.Append append = (Topic.Append) viaExtension(new Topic.Append(messages, appended));
    assertEquals(messages, append.messages());
    Channel.Push push = (Channel.Push) viaExtension(new Channel.Push(7, new Topic.MessagesAppended(3, messages)));
    assertEquals(messages, push.batch().messages());
    ConsumerProtocol.Deliver deliver = new ConsumerProtocol.Deliver(
        List.of(new ConsumerProtocol.Delivery(3, 5, 2, ByteString.fromString("body"))));
    assertEquals(deliver, viaExtension(deliver));
  }

  @Test
  void topicStateRoundTripsThroughCbor() {
    StoredIds ids = new StoredIds();
    ids.add("order-1", 1_000, 60_000, 2);
    ids.add("order-2", 2_000, 60_000, 2);
    ids.add("order-3", 3_000, 60_000, 2); // forgets order-1 early: the count limit is 2
    JournalMarks marks = new JournalMarks();
    marks.written(3, 2, 1_000, 0);
    marks.written(200, 7, 2_000, 150);
    Topic.State s = new Topic.State(true, true, 10, 2, 300, new Topic.Start(2, 3),
        Map.of("a", new Topic.Start(4, 5), "b", new Topic.Start(10, 9)), new TopicConfig(30_000L, 60_000L, 1L << 30),
        ids, marks);
    Topic.State back = (Topic.State) viaExtension(s);
    assertEquals(s, back);
    assertEquals(2, back.marks().size());
    assertEquals(200, back.marks().seqNrBeforeTime(2_500));
    assertEquals(1, back.ids().forgottenEarly());
    assertEquals(2, back.ids().size());
    assertTrue(back.ids().contains("order-3", 3_500, 60_000));
    assertFalse(back.ids().contains("order-1", 3_500, 60_000));
  }

  @Test
  void aMessageWithADedupIdIsWrittenAsMa2AndReadBack() throws Exception {
    Topic.MessagesAppended e = new Topic.MessagesAppended(5, List.of(
        new Published(ByteString.fromString("a"), 1, 0, "id-1"),
        new Published(ByteString.fromString("b"), 2, 0),
        new Published(ByteString.fromString("c"), 3, 9, DedupId.ofPosition("orders", "archive", 42))));
    assertEquals("MA2", SERIALIZER.manifest(e));
    assertEquals(e, roundTrip(e));
    // Layout: the id comes between deliverAt and the body's size.
    ByteBuffer buf = ByteBuffer.wrap(SERIALIZER.toBinary(e));
    buf.getLong();
    buf.getInt();
    assertEquals(1, buf.getLong());
    assertEquals(0, buf.getLong());
    assertEquals(4, buf.get());
    byte[] id = new byte[4];
    buf.get(id);
    assertEquals("id-1", new String(id, StandardCharsets.US_ASCII));
    assertEquals(1, buf.getInt());
  }

  @Test
  void aWriteWithoutIdsStaysMa1() {
    assertEquals("MA1", SERIALIZER.manifest(new Topic.MessagesAppended(0, List.of(new Published(ByteString.fromString("a"), 1, 0)))));
  }

  @Test
  void adminCommandsAndRepliesRoundTripThroughCbor() {
    ActorRef<StatusReply<Done>> done = testKit.<StatusReply<Done>>createTestProbe().ref();
    // A channel on another node tells its topic where it runs: the ref crosses the cluster too.
    ActorRef<Channel.Command> channel = testKit.<Channel.Command>createTestProbe().ref();
    for (Object o : List.of(
        new Topic.Create(done),
        new Topic.CreateChannel("archive", true, done),
        new Topic.ChannelAdmin("archive", Topic.ChannelOp.EMPTY, done),
        new Topic.Attach("archive"),
        new Topic.Attach("archive", channel),
        new Topic.ChannelAt("archive", 42, channel),
        new Topic.CreateChannel("archive", true, ReplayFrom.EARLIEST, done),
        new Topic.RewindChannel("archive", new ReplayFrom(ReplayFrom.Where.TIME, 1_700_000_000_000L), done),
        new Topic.ChannelRewound("archive"),
        new Channel.Rewind(new Topic.Start(3, 2), done),
        new Topic.Appended(12, 3),
        new Topic.Appended(12, 1, List.of(0, 2)),
        new Topic.Configure(new TopicConfig(TopicConfig.NODE_DEFAULT), done),
        new Topic.TopicConfigured(new TopicConfig(1500L)),
        new Topic.TopicConfigured(TopicConfig.DEFAULT),
        new Topic.TopicStats("orders", true, false, 4, 10, 99, List.of("a", "b"), "127.0.0.1:4151", 1000),
        new Topic.TopicStats("orders", true, false, 4, 10, 99, List.of("a", "b"), "127.0.0.1:4151", 1000,
            new Topic.DedupStats(120_000, 7, 3, 1)),
        new Topic.TopicStats("orders", true, false, 4, 10, 99, List.of("a", "b"), "127.0.0.1:4151", 1000,
            new Topic.DedupStats(120_000, 7, 3, 1), new Topic.RetentionStats(3_600_000, 0)),
        new Channel.EmptyUpTo(10, 4, done),
        new Channel.Attached(true, new Topic.Start(3, 2), 5, 4, true, List.of()),
        new Channel.ChannelStats("orders", "archive", true, false, 1, 2, 3, 4, 5, 6, List.of(
            new Channel.ClientStats("c1", "127.0.0.1:1", 10, 2, 7, 5, 1, 3, 1_700_000_000_000L)), "127.0.0.1:4151",
            new Channel.E2eLatency(5, List.of(new Channel.Percentile(0.5, 3_000_000), new Channel.Percentile(1.0, 9_000_000)))),
        new Channel.ChannelStats("orders", "billing", true, false, 1, 2, 3, 4, 5, 6, List.of(), "127.0.0.1:4151",
            Channel.E2eLatency.NONE, 1, 7, 3, "orders.billing.dead", 20),
        BrokerEntity.Stop.INSTANCE)) {
      assertEquals("jackson-cbor", serializerName(serialization.findSerializerFor(o)), o.toString());
      assertEquals(o, viaExtension(o), o.toString());
    }
  }

  /** jackson-cbor is registered under identifier 33 (pekko-serialization-jackson's reference.conf). */
  private static String serializerName(Serializer s) {
    if (s instanceof JacksonCborSerializer && s.identifier() == 33) {
      return "jackson-cbor";
    }
    return s.getClass().getName() + "#" + s.identifier();
  }

  private static Object viaExtension(Object o) {
    Serializer s = serialization.findSerializerFor(o);
    byte[] bytes = serialization.serialize(o).get();
    return serialization.deserialize(bytes, s.identifier(), Serializers.manifestFor(s, o)).get();
  }
}
