package herald.broker;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * When a topic's next write waits for more publishes, and for how long (Gathering); how its inbox
 * ends the wait (TopicInbox.gather): the publish that makes them as many as wanted, or the time limit.
 */
class GatheringTest {
  private static final long MS = 1_000_000;
  private static final ActorTestKit testKit = ActorTestKit.create("gathering-test");

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  private static TopicInbox.Waiting publish() {
    return new TopicInbox.Waiting(List.of(new Published(ByteString.fromString("m"), System.currentTimeMillis(), 0, null)),
        System.currentTimeMillis() + 60_000, new CompletableFuture<>());
  }

  /** An inbox attached to a probe standing for its topic, which has taken the first Drain. */
  private static TopicInbox inboxOf(TestProbe<Topic.Command> topic) {
    TopicInbox inbox = new TopicInbox(testKit.system().scheduler(), testKit.system().executionContext());
    inbox.attach(topic.ref());
    assertTrue(inbox.offer(publish()));
    topic.expectMessage(Topic.Drain.INSTANCE);
    return inbox;
  }

  @Test
  void thePublishThatMakesThemAsManyAsWantedWakesTheTopic() {
    TestProbe<Topic.Command> topic = testKit.createTestProbe();
    TopicInbox inbox = inboxOf(topic);
    assertTrue(inbox.gather(3), "one waits, three wanted");
    assertTrue(inbox.offer(publish()));
    // A negative check: the topic is told at once when the third comes (below), so 200 ms is ample.
    topic.expectNoMessage(Duration.ofMillis(200));
    assertTrue(inbox.offer(publish()));
    topic.expectMessage(Topic.Drain.INSTANCE);
    assertEquals(3, inbox.size());
    inbox.gatherOver();
    topic.expectNoMessage(Duration.ofMillis(200)); // the wait was over already: no second Drain
  }

  @Test
  void aWaitForNoMoreThanWaitAlreadyDoesNotStart() {
    TestProbe<Topic.Command> topic = testKit.createTestProbe();
    TopicInbox inbox = inboxOf(topic);
    assertTrue(inbox.offer(publish()));
    assertFalse(inbox.gather(2));
    inbox.gatherOver();
    topic.expectNoMessage(Duration.ofMillis(200));
  }

  @Test
  void theTimeLimitWakesTheTopicWithWhatCame() {
    TestProbe<Topic.Command> topic = testKit.createTestProbe();
    TopicInbox inbox = inboxOf(topic);
    assertTrue(inbox.gather(5));
    Gathering.after(MS, inbox::gatherOver);
    topic.expectMessage(Topic.Drain.INSTANCE);
    assertEquals(1, inbox.take(System.currentTimeMillis()).publishes().size());
    assertEquals(0, inbox.size());
  }

  @Test
  void aWriteOfOnePublishWithNoneQueuedNeverWaits() {
    Gathering g = new Gathering();
    g.written(1, 0, 0, 4 * MS);
    assertEquals(0, g.waitFor(0, 4 * MS));
    assertEquals(0, g.waitFor(1, 4 * MS));
  }

  @Test
  void afterTwoGroupsTookTurnsTheNextWriteWaitsForBoth() {
    Gathering g = new Gathering();
    // 8 publishes answered, 8 queued meanwhile: 16 publishers in play.
    g.written(8, 8, 0, 4 * MS);
    assertEquals(16, g.waitFor(8, 4 * MS));
    assertEquals(0, g.waitFor(16, 4 * MS), "all of them wait already");
  }

  @Test
  void theWaitLastsAtMostHalfTheWriteAndAtMostTheLimit() {
    Gathering g = new Gathering();
    g.written(2, 2, 10 * MS, 11 * MS);
    assertEquals(11 * MS + MS / 2, g.until(), "half of a 1 ms write");
    assertEquals(0, g.waitFor(2, 11 * MS + MS / 2), "too late to wait");
    g.written(2, 2, 0, 100 * MS);
    assertEquals(100 * MS + Gathering.MAX_WAIT.toNanos(), g.until());
  }

  @Test
  void aWaitThatStartedIsEndedByTheNextDrain() {
    Gathering g = new Gathering();
    assertFalse(g.waiting());
    g.started();
    assertTrue(g.waiting());
    g.ended(0);
    assertFalse(g.waiting());
  }

  @Test
  void waitsInVainStopTheWaitingForDoublingNumbersOfWrites() {
    Gathering g = new Gathering();
    for (int skipped : new int[] {1, 2, 4, 8}) {
      g.written(2, 1, 0, 4 * MS);
      assertEquals(3, g.waitFor(1, 4 * MS));
      g.ended(1); // nobody came
      for (int i = 0; i < skipped; i++) {
        g.written(2, 1, 0, 4 * MS);
        assertEquals(0, g.waitFor(1, 4 * MS), "write " + i + " after " + skipped + " in vain");
      }
    }
    g.written(2, 1, 0, 4 * MS);
    assertEquals(3, g.waitFor(1, 4 * MS));
    g.ended(3); // they came: the next waits again at once
    g.written(3, 0, 0, 4 * MS);
    assertEquals(3, g.waitFor(1, 4 * MS));
  }

  @Test
  void theTimerRunsTasksAfterTheirDelay() throws InterruptedException {
    CountDownLatch ran = new CountDownLatch(1);
    long start = System.nanoTime();
    Gathering.after(MS, ran::countDown);
    assertTrue(ran.await(10, TimeUnit.SECONDS));
    assertTrue(System.nanoTime() - start >= MS);
  }
}
