package herald.broker;

import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What one write takes from what waits: in order, within the limits (the first always), never a
 * publish too close to its deadline, never one already answered; and how a write's answer reaches
 * each publisher. The batcher and the inbox both take their writes this way.
 */
class GroupCommitTest {
  private static final long NOW = 1_000_000;
  private static final long LATER = NOW + PublishBatcher.PUBLISH_TIMEOUT.toMillis();

  private static PublishBatcher.Publish publish(int messages, int bodyBytes, long deadline) {
    Published m = new Published(ByteString.fromArray(new byte[bodyBytes]), NOW, 0);
    return new PublishBatcher.Publish(Collections.nCopies(messages, m), deadline, new CompletableFuture<>());
  }

  @Test
  void aWriteTakesWhatWaitsInOrderUpToTheMessageLimit() {
    ArrayDeque<PublishBatcher.Publish> waiting = new ArrayDeque<>();
    PublishBatcher.Publish a = publish(GroupCommit.MAX_MESSAGES - 10, 1, LATER + 5);
    PublishBatcher.Publish b = publish(10, 1, LATER);
    PublishBatcher.Publish c = publish(1, 1, LATER);
    waiting.addAll(List.of(a, b, c));

    GroupCommit.Write<PublishBatcher.Publish> write = GroupCommit.next(waiting, NOW);
    assertEquals(List.of(a, b), write.publishes(), "exactly at the limit; one more message would pass it");
    assertEquals(GroupCommit.MAX_MESSAGES, write.messages().size());
    assertEquals(LATER, write.deadline(), "the earliest deadline of the write");
    assertEquals(List.of(c), List.copyOf(waiting), "the next write's");
  }

  @Test
  void aWriteStopsBeforeTheByteLimitButAlwaysTakesItsFirstPublish() {
    ArrayDeque<PublishBatcher.Publish> waiting = new ArrayDeque<>();
    PublishBatcher.Publish big = publish(2, GroupCommit.MAX_BYTES, LATER);
    PublishBatcher.Publish small = publish(1, 1, LATER);
    PublishBatcher.Publish half = publish(1, GroupCommit.MAX_BYTES / 2, LATER);
    PublishBatcher.Publish more = publish(1, GroupCommit.MAX_BYTES / 2, LATER);
    waiting.addAll(List.of(big, small, half, more));

    assertEquals(List.of(big), GroupCommit.next(waiting, NOW).publishes(), "over the limit alone, so alone");
    assertEquals(List.of(small, half), GroupCommit.next(waiting, NOW).publishes(), "the next would pass 4 MiB");
    assertEquals(List.of(more), GroupCommit.next(waiting, NOW).publishes());
    assertNull(GroupCommit.next(waiting, NOW));
  }

  @Test
  void aPublishTooCloseToItsDeadlineIsRefusedNotStoredAndLeftOut() throws Exception {
    ArrayDeque<PublishBatcher.Publish> waiting = new ArrayDeque<>();
    PublishBatcher.Publish late = publish(1, 1, NOW + PublishBatcher.HANDED_MARGIN.toMillis());
    PublishBatcher.Publish inTime = publish(1, 1, NOW + PublishBatcher.HANDED_MARGIN.toMillis() + 1);
    waiting.addAll(List.of(late, inTime));

    assertEquals(List.of(inTime), GroupCommit.next(waiting, NOW).publishes());
    ExecutionException e = assertThrows(ExecutionException.class, () -> late.result().get(1, TimeUnit.SECONDS));
    assertInstanceOf(Publisher.NotStored.class, e.getCause());
    assertFalse(inTime.result().isDone());
  }

  @Test
  void aPublishAnsweredWhileItWaitedIsLeftOut() {
    ArrayDeque<TopicInbox.Waiting> waiting = new ArrayDeque<>();
    TopicInbox.Waiting expired = new TopicInbox.Waiting(List.of(publish(1, 1, LATER).messages().get(0)), LATER, new CompletableFuture<>());
    TopicInbox.Waiting next = new TopicInbox.Waiting(List.of(publish(1, 1, LATER).messages().get(0)), LATER, new CompletableFuture<>());
    waiting.addAll(List.of(expired, next));
    expired.expire();

    assertEquals(List.of(next), GroupCommit.next(waiting, NOW).publishes());
    assertTrue(waiting.isEmpty());
  }

  @Test
  void eachPublisherOfAWriteHearsOfItsOwnMessagesAndDuplicates() throws Exception {
    ArrayDeque<PublishBatcher.Publish> waiting = new ArrayDeque<>();
    PublishBatcher.Publish a = publish(2, 1, LATER);
    PublishBatcher.Publish b = publish(3, 1, LATER);
    waiting.addAll(List.of(a, b));
    GroupCommit.Write<PublishBatcher.Publish> write = GroupCommit.next(waiting, NOW);

    // Stored from offset 40: the whole write's message 3 (b's second) was a duplicate.
    write.answer(new Topic.Appended(40, 4, List.of(3)));
    assertEquals(new Topic.Appended(40, 2, List.of()), a.result().get(1, TimeUnit.SECONDS));
    assertEquals(new Topic.Appended(42, 2, List.of(1)), b.result().get(1, TimeUnit.SECONDS));
  }
}
