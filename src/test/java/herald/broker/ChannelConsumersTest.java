package herald.broker;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChannelConsumersTest {
  private static ActorTestKit testKit;

  @BeforeAll
  static void start() {
    testKit = ActorTestKit.create();
  }

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  private static ChannelConsumers.Consumer consumer(TestProbe<ConsumerProtocol> probe, String id, long ready) {
    ChannelConsumers.Consumer c = new ChannelConsumers.Consumer(probe.ref(), id, "127.0.0.1:1",
        ClientInfo.webSocket("127.0.0.1:1"), 1_000);
    c.ready = ready;
    return c;
  }

  @Test
  void roundRobinSkipsConsumersWithoutCredit() {
    ChannelConsumers consumers = new ChannelConsumers();
    ChannelConsumers.Consumer a = consumer(testKit.createTestProbe(), "a", 2);
    ChannelConsumers.Consumer b = consumer(testKit.createTestProbe(), "b", 0);
    ChannelConsumers.Consumer c = consumer(testKit.createTestProbe(), "c", 1);
    assertTrue(consumers.add(a));
    assertTrue(consumers.add(b));
    assertTrue(consumers.add(c));
    assertFalse(consumers.add(a), "already there");
    List<String> order = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ChannelConsumers.Consumer next = consumers.nextWithCredit();
      order.add(next.clientId);
      next.inFlight++;
    }
    assertEquals(List.of("a", "c", "a"), order);
    assertNull(consumers.nextWithCredit(), "every credit is used");
  }

  @Test
  void aRemovedConsumerIsNeverChosenAgain() {
    ChannelConsumers consumers = new ChannelConsumers();
    TestProbe<ConsumerProtocol> pa = testKit.createTestProbe();
    consumers.add(consumer(pa, "a", 10));
    consumers.add(consumer(testKit.createTestProbe(), "b", 10));
    assertEquals("a", consumers.nextWithCredit().clientId);
    assertEquals("a", consumers.remove(pa.ref()).clientId);
    assertNull(consumers.remove(pa.ref()));
    for (int i = 0; i < 3; i++) assertEquals("b", consumers.nextWithCredit().clientId);
  }

  @Test
  void closeAllTellsEveryConsumerWhy() {
    ChannelConsumers consumers = new ChannelConsumers();
    TestProbe<ConsumerProtocol> pa = testKit.createTestProbe();
    TestProbe<ConsumerProtocol> pb = testKit.createTestProbe();
    consumers.add(consumer(pa, "a", 1));
    consumers.add(consumer(pb, "b", 1));
    assertEquals(2, consumers.stats().size());
    consumers.closeAll("gone");
    assertEquals(new ConsumerProtocol.Close("gone"), pa.expectMessageClass(ConsumerProtocol.Close.class, Duration.ofSeconds(5)));
    assertEquals(new ConsumerProtocol.Close("gone"), pb.expectMessageClass(ConsumerProtocol.Close.class, Duration.ofSeconds(5)));
    assertTrue(consumers.isEmpty());
    assertNull(consumers.nextWithCredit());
  }
}
