package herald.broker;

import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReadyQueueTest {

  private static ChannelMessage msg(long offset, long seqNr, long deliverAt) {
    return new ChannelMessage(offset, seqNr, 0, ByteString.fromString("m" + offset), deliverAt);
  }

  @Test
  void readyMessagesComeOutInOrderAndAReturnedOneGoesFirst() {
    ReadyQueue q = new ReadyQueue(true);
    q.add(msg(1, 1, 0), 100);
    q.add(msg(2, 1, 0), 100);
    q.addFirst(msg(0, 1, 0));
    q.addLast(msg(3, 2, 0));
    assertEquals(4, q.readyCount());
    assertEquals(List.of(0L, 1L, 2L, 3L), List.of(q.poll().offset, q.poll().offset, q.poll().offset, q.poll().offset));
    assertNull(q.poll());
    assertFalse(q.hasReady());
  }

  @Test
  void aDeferredPublishWaitsUntilItsTime() {
    ReadyQueue q = new ReadyQueue(true);
    q.add(msg(1, 1, 500), 100);
    assertEquals(0, q.readyCount());
    assertEquals(1, q.deferredCount());
    assertFalse(q.releaseDue(499));
    assertFalse(q.releaseDue(500), "a deferred publish is the topic's, not the channel's progress");
    assertEquals(1, q.readyCount());
    assertEquals(0, q.deferredCount());
    assertTrue(q.requeueDeferrals().isEmpty());
  }

  @Test
  void reqDeferralsAreReleasedByDueTimeAndKeptInProgressUntilThen() {
    ReadyQueue q = new ReadyQueue(true);
    q.requeueDeferred(msg(1, 3, 0), 2_000);
    q.requeueDeferred(msg(2, 4, 0), 1_000);
    assertEquals(List.of(new Channel.Deferral(1, 3, 2_000), new Channel.Deferral(2, 4, 1_000)),
        q.requeueDeferrals().stream().sorted((a, b) -> Long.compare(a.offset(), b.offset())).toList());
    assertTrue(q.releaseDue(1_500));
    assertEquals(2, q.poll().offset);
    assertEquals(List.of(new Channel.Deferral(1, 3, 2_000)), q.requeueDeferrals());
    assertTrue(q.releaseDue(2_000));
    assertEquals(1, q.poll().offset);
    assertTrue(q.requeueDeferrals().isEmpty());
  }

  @Test
  void lowestSeqNrCoversReadyAndDeferred() {
    ReadyQueue q = new ReadyQueue(true);
    q.add(msg(1, 7, 0), 0);
    q.requeueDeferred(msg(2, 5, 0), 1_000);
    assertEquals(5, q.lowestSeqNr(10));
    assertEquals(2, q.lowestSeqNr(2));
    q.clear();
    assertEquals(10, q.lowestSeqNr(10));
    assertEquals(0, q.deferredCount());
  }

  @Test
  void aDeferredMessageKeepsNoBodyAndIsReadyOnlyOnceItsBodyIsBack() {
    ReadyQueue q = new ReadyQueue(false);
    ChannelMessage m = msg(1, 3, 0);
    ChannelMessage n = msg(2, 3, 0);
    q.requeueDeferred(m, 1_000);
    q.add(msg(5, 4, 0), 0);
    n.deliverAt = 1_000;
    q.add(n, 0);
    assertNull(m.body, "not held while deferred");
    assertNull(n.body);
    assertEquals(2, q.deferredCount());
    assertTrue(q.releaseDue(1_000));
    assertEquals(1, q.readyCount(), "due, but without a body they are not ready");
    assertEquals(2, q.deferredCount());
    assertEquals(3, q.lowestSeqNr(10));

    List<ChannelMessage> toRead = q.takeDueWithoutBody(1);
    assertEquals(1, toRead.size(), "no more than the room given");
    assertTrue(q.takeDueWithoutBody(5).isEmpty(), "one read at a time");
    q.bodyNotRead(toRead);
    toRead = q.takeDueWithoutBody(5);
    assertEquals(2, toRead.size());
    for (ChannelMessage x : toRead) {
      x.body = ByteString.fromString("back");
      assertTrue(q.bodyRead(x));
    }
    assertEquals(3, q.readyCount());
    assertEquals(0, q.deferredCount());
    assertFalse(q.hasDueWithoutBody());
  }

  @Test
  void aBodyThatComesBackAfterTheQueueWasEmptiedIsDropped() {
    ReadyQueue q = new ReadyQueue(false);
    q.requeueDeferred(msg(1, 3, 0), 0);
    q.releaseDue(0);
    ChannelMessage m = q.takeDueWithoutBody(5).get(0);
    q.clear();
    m.body = ByteString.fromString("late");
    assertFalse(q.bodyRead(m));
    assertEquals(0, q.readyCount());
  }
}
