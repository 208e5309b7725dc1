package herald.node;

import com.typesafe.config.ConfigFactory;
import herald.broker.MessagesAppendedSerializer;
import herald.broker.Published;
import herald.broker.Topic;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/** The journal record LevelDbJournal writes itself must be Pekko's, byte for byte, and read back by Pekko. */
class MessagesAppendedRecordTest {
  private static ActorTestKit testKit;
  private static Serialization serialization;

  @BeforeAll
  static void start() {
    // The project's serialization config on a local actor system; no journal is started.
    testKit = ActorTestKit.create("record-test",
        ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load()));
    serialization = SerializationExtension.get(testKit.system());
  }

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  private static Topic.MessagesAppended batch(Random random, int count, int maxSize, boolean ids) {
    List<Published> messages = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      byte[] body = new byte[1 + random.nextInt(maxSize)];
      random.nextBytes(body);
      // Bodies as /mpub makes them: slices of a larger request.
      ByteString whole = ByteString.fromArray(new byte[] {1, 2}).concat(ByteString.fromArray(body)).concat(ByteString.fromArray(new byte[] {3}));
      String id = ids && random.nextInt(4) > 0 ? "id-" + random.nextInt(1_000_000) : null;
      long deliverAt = random.nextBoolean() ? 0 : random.nextLong();
      messages.add(new Published(whole.slice(2, 2 + body.length), random.nextLong(), deliverAt, id));
    }
    return new Topic.MessagesAppended(random.nextLong() >>> 1, List.copyOf(messages));
  }

  private static void assertSameAsPekko(PersistentRepr repr) {
    Topic.MessagesAppended e = (Topic.MessagesAppended) repr.payload();
    MessagesAppendedSerializer serializer = (MessagesAppendedSerializer) serialization.findSerializerFor(e);
    byte[] ours = MessagesAppendedRecord.toBytes(repr, e, serializer.identifier(), serializer.manifest(e));
    byte[] pekkos = serialization.serialize(repr).get();
    assertArrayEquals(pekkos, ours);
    PersistentRepr back = serialization.deserialize(ours, PersistentRepr.class).get();
    assertEquals(repr.sequenceNr(), back.sequenceNr());
    assertEquals(repr.persistenceId(), back.persistenceId());
    assertEquals(repr.writerUuid(), back.writerUuid());
    assertEquals(repr.timestamp(), back.timestamp());
    Topic.MessagesAppended read = assertInstanceOf(Topic.MessagesAppended.class, back.payload());
    assertEquals(e, read);
  }

  @Test
  void sameBytesAsPekkosSerializerForBatchesOfEverySize() {
    Random random = new Random(42);
    // From one tiny message to a write bigger than G1's humongous threshold, so every varint
    // length (1 to 3 bytes) and both layouts (with and without ids) occur.
    int[][] shapes = {{1, 1}, {1, 200}, {3, 40}, {100, 200}, {3_200, 200}, {50, 20_000}};
    for (int[] shape : shapes) {
      for (boolean ids : new boolean[] {false, true}) {
        Topic.MessagesAppended e = batch(random, shape[0], shape[1], ids);
        long seqNr = 1 + (random.nextLong() >>> 2);
        PersistentRepr repr = PersistentRepr.apply(e, seqNr, "Topic|orders-" + shape[0], PersistentRepr.Undefined(),
            false, ActorRef.noSender(), "0c2f0b5e-5a33-4c8e-8e5b-6d8d1f1f9a11").withTimestamp(1_764_625_000_000L + seqNr);
        assertSameAsPekko(repr);
      }
    }
  }

  @Test
  void sameBytesWhenOptionalFieldsAreUnsetOrTheSequenceNumberIsSmall() {
    Topic.MessagesAppended e = new Topic.MessagesAppended(0,
        List.of(new Published(ByteString.fromString("x", StandardCharsets.US_ASCII), 1, 0)));
    // No persistence id, writer or timestamp: Pekko leaves those fields out.
    assertSameAsPekko(PersistentRepr.apply(e, 1, PersistentRepr.Undefined(), PersistentRepr.Undefined(), false,
        ActorRef.noSender(), PersistentRepr.Undefined()));
    // An event adapter's manifest on the record itself.
    assertSameAsPekko(PersistentRepr.apply(e, 0, "Topic|t", "v2", false, ActorRef.noSender(), "w")
        .withTimestamp(1));
  }
}
