package herald.broker;

import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
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
    ReadyQueue q = new ReadyQueue(true, ended -> { });
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
    List<Long> ended = new ArrayList<>();
    ReadyQueue q = new ReadyQueue(true, ended::add);
    q.add(msg(1, 1, 500), 100);
    assertEquals(0, q.readyCount());
    assertEquals(1, q.deferredCount());
    q.releaseDue(499);
    assertEquals(0, q.readyCount());
    q.releaseDue(500);
    assertEquals(1, q.readyCount());
    assertEquals(0, q.deferredCount());
    assertEquals(List.of(), ended, "a deferred publish is the topic's, not the channel's progress");
  }

  @Test
  void reqDeferralsAreReleasedByDueTimeAndEndWhenReadyAgain() {
    List<Long> ended = new ArrayList<>();
    ReadyQueue q = new ReadyQueue(true, ended::add);
    q.requeueDeferred(msg(1, 3, 0), 2_000);
    q.requeueDeferred(msg(2, 4, 0), 1_000);
    q.releaseDue(1_500);
    assertEquals(List.of(2L), ended);
    assertEquals(2, q.poll().offset);
    q.releaseDue(2_000);
    assertEquals(List.of(2L, 1L), ended);
    assertEquals(1, q.poll().offset);
  }

  @Test
  void aRestoredDeferralThatIsAlreadyDueEndsAtOnce() {
    List<Long> ended = new ArrayList<>();
    ReadyQueue q = new ReadyQueue(false, ended::add);
    ChannelMessage due = msg(1, 3, 900);
    due.requeueDeferred = true;
    ChannelMessage later = msg(2, 3, 5_000);
    later.requeueDeferred = true;
    q.add(due, 1_000);
    q.add(later, 1_000);
    assertEquals(List.of(1L), ended, "read with its body: ready now");
    assertEquals(1, q.readyCount());
    assertEquals(1, q.deferredCount());
  }

  @Test
  void lowestSeqNrCoversReadyAndDeferred() {
    ReadyQueue q = new ReadyQueue(true, ended -> { });
    q.add(msg(1, 7, 0), 0);
    q.requeueDeferred(msg(2, 5, 0), 1_000);
    assertEquals(5, q.lowestSeqNr(10));
    assertEquals(2, q.lowestSeqNr(2));
    q.releaseDue(1_000);
    assertEquals(5, q.lowestSeqNr(10), "released, it is held in the ready buffer");
    q.poll();
    q.poll();
    assertEquals(10, q.lowestSeqNr(10), "taken out, it is no longer held anywhere");
    q.requeueDeferred(msg(2, 5, 0), 1_000);
    q.clear();
    assertEquals(10, q.lowestSeqNr(10));
    assertEquals(0, q.deferredCount());
  }

  @Test
  void aDeferredMessageKeepsNoBodyAndIsReadyOnlyOnceItsBodyIsBack() {
    List<Long> ended = new ArrayList<>();
    ReadyQueue q = new ReadyQueue(false, ended::add);
    ChannelMessage m = msg(1, 3, 0);
    ChannelMessage n = msg(2, 3, 0);
    q.requeueDeferred(m, 1_000);
    q.add(msg(5, 4, 0), 0);
    n.deliverAt = 1_000;
    q.add(n, 0);
    assertNull(m.body, "not held while deferred");
    assertNull(n.body);
    assertEquals(2, q.deferredCount());
    q.releaseDue(1_000);
    assertEquals(1, q.readyCount(), "due, but without a body they are not ready");
    assertEquals(2, q.deferredCount());
    assertEquals(3, q.lowestSeqNr(10));
    assertEquals(List.of(), ended, "a REQ deferral waiting for its body has not ended");

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
    assertEquals(List.of(1L), ended, "the REQ deferral ended with its body back; the deferred publish had none");
  }

  @Test
  void aBodyThatComesBackAfterTheQueueWasEmptiedIsDropped() {
    ReadyQueue q = new ReadyQueue(false, ended -> { });
    q.requeueDeferred(msg(1, 3, 0), 0);
    q.releaseDue(0);
    ChannelMessage m = q.takeDueWithoutBody(5).get(0);
    q.clear();
    m.body = ByteString.fromString("late");
    assertFalse(q.bodyRead(m));
    assertEquals(0, q.readyCount());
  }

  /**
   * The progress write's view of the ready buffer (its lowest write, the messages with attempts)
   * skips the walk while the buffer is in write order; whatever joins it and however, the answers
   * are those of a walk over every message (a plain list kept beside it).
   */
  @Test
  void theLowestWriteAndTheAttemptsAreThoseOfAWalkWhateverTheOrder() {
    java.util.Random random = new java.util.Random(13);
    for (int round = 0; round < 200; round++) {
      ReadyQueue q = new ReadyQueue(true, ended -> { });
      java.util.ArrayDeque<ChannelMessage> model = new java.util.ArrayDeque<>();
      long offset = 0;
      long seqNr = 1;
      long now = 1_000;
      for (int step = 0; step < 60; step++) {
        int op = random.nextInt(10);
        if (op < 4) { // taken from the topic, in write order
          if (random.nextBoolean()) seqNr++;
          ChannelMessage m = msg(offset++, seqNr, 0);
          if (random.nextInt(8) == 0) m.attempts = 1 + random.nextInt(3); // recovered attempts
          q.add(m, now);
          model.addLast(m);
        } else if (op < 6) { // delivered
          assertEquals(model.pollFirst(), q.poll());
        } else if (op == 6 && !model.isEmpty()) { // delivered, then back at the end (REQ, timeout)
          ChannelMessage m = q.poll();
          model.pollFirst();
          m.attempts++;
          q.addLast(m);
          model.addLast(m);
        } else if (op == 7 && !model.isEmpty()) { // delivered, then back at the head (consumer gone)
          ChannelMessage m = q.poll();
          model.pollFirst();
          m.attempts++;
          q.addFirst(m);
          model.addFirst(m);
        } else if (op == 8 && !model.isEmpty()) { // delivered, then a REQ with a delay, due at once
          ChannelMessage m = q.poll();
          model.pollFirst();
          m.attempts++;
          q.requeueDeferred(m, now + 1);
          now += 1;
          q.releaseDue(now);
          model.addLast(m);
        } else if (op == 9 && random.nextInt(10) == 0) {
          q.clear();
          model.clear();
        }
        long walked = 50;
        for (ChannelMessage m : model) walked = Math.min(walked, m.seqNr);
        assertEquals(walked, q.lowestSeqNr(50), "round " + round + " step " + step);
        List<Long> withAttempts = new ArrayList<>();
        for (ChannelMessage m : model) if (m.attempts > 0) withAttempts.add(m.offset);
        List<Long> reported = new ArrayList<>();
        q.forEachReadyWithAttempts(m -> reported.add(m.offset));
        assertEquals(withAttempts, reported, "round " + round + " step " + step);
      }
    }
  }
}
