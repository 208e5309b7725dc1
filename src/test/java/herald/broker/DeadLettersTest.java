package herald.broker;

import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DeadLettersTest {

  private static ChannelMessage msg(long offset) {
    ChannelMessage m = new ChannelMessage(offset, 1, 0, ByteString.fromString("m" + offset), 0);
    m.attempts = 3;
    return m;
  }

  @Test
  void nothingIsPublishedBeforeTheWriteThatCarriesItsLastAttempt() {
    DeadLetters d = new DeadLetters();
    ChannelMessage a = msg(1);
    d.decide(a);
    assertTrue(d.takeToPublish().isEmpty(), "its attempts are not durable yet");
    d.written();
    ChannelMessage b = msg(2);
    d.decide(b);
    assertEquals(List.of(a), d.takeToPublish(), "b waits for the next write");
    assertEquals(2, d.size());
    d.written();
    assertTrue(d.takeToPublish().isEmpty(), "one publish at a time");
    assertTrue(d.published(a));
    assertFalse(d.published(a));
    assertEquals(List.of(b), d.takeToPublish());
  }

  @Test
  void aFailedPublishIsTriedAgainAndAnEmptiedChannelForgetsItsDeadLetters() {
    DeadLetters d = new DeadLetters();
    ChannelMessage a = msg(1);
    d.decide(a);
    d.written();
    List<ChannelMessage> first = d.takeToPublish();
    d.failed(first);
    assertEquals(List.of(a), d.takeToPublish());
    d.clear();
    assertFalse(d.published(a), "emptied meanwhile: not counted");
    assertTrue(d.isEmpty());
  }

  @Test
  void theCopyHasTheSameBodyAndAnIdNamingItsPosition() {
    Published copy = DeadLetters.copy("orders", "billing", msg(42), 1_000);
    assertEquals(ByteString.fromString("m42"), copy.body());
    assertEquals(DedupId.ofPosition("orders", "billing", 42), copy.dedupId());
    assertEquals(1_000, copy.timestamp());
    assertEquals(0, copy.deliverAt());
  }
}
