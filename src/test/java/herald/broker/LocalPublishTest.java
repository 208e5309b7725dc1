package herald.broker;

import herald.e2e.Await;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.JournalOperation;
import org.apache.pekko.persistence.testkit.ProcessingPolicy;
import org.apache.pekko.persistence.testkit.ProcessingResult;
import org.apache.pekko.persistence.testkit.ProcessingSuccess$;
import org.apache.pekko.persistence.testkit.ReadEvents;
import org.apache.pekko.persistence.testkit.ReadSeqNum$;
import org.apache.pekko.persistence.testkit.StorageFailure;
import org.apache.pekko.persistence.testkit.WriteEvents;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Publishing to a topic that runs on this node: the publisher's requests go into the topic's
 * inbox, not through the PublishBatcher and sharding, and the real Topic entity group-commits them
 * and answers each one. The in-memory journal is held on a latch where a test needs a write in
 * flight. Sharding itself leads to recorders here (BrokerTestSystem): whatever reaches the topic
 * through sharding is seen there.
 */
class LocalPublishTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static BrokerTestSystem broker;
  private static PersistenceTestKit journal;
  // One per node, as in a node: it names its batchers uniquely only among its own.
  private static final SimpleMeterRegistry metrics = new SimpleMeterRegistry();
  private static Publisher publisher;

  @BeforeAll
  static void startSystem() throws Exception {
    broker = new BrokerTestSystem("local-publish-test");
    journal = PersistenceTestKit.create(broker.system());
    publisher = new Publisher(broker.system(), metrics);
  }

  @AfterAll
  static void stopSystem() {
    broker.shutdown();
  }

  @AfterEach
  void openJournal() {
    journal.resetPolicy();
  }

  /** Every write of one topic waits in the journal until released. */
  private static final class Hold {
    final CountDownLatch writing = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    Hold(String pid) {
      journal.withPolicy(new ProcessingPolicy<JournalOperation>() {
        @Override
        public ProcessingResult tryProcess(String persistenceId, JournalOperation operation) {
          if (persistenceId.equals(pid) && operation instanceof WriteEvents) {
            writing.countDown();
            try {
              if (!release.await(WAIT.toSeconds(), TimeUnit.SECONDS)) throw new AssertionError("the test never released the journal");
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          return ProcessingSuccess$.MODULE$;
        }
      });
    }

    /** A write is in the journal's hands. */
    void awaitWriting() throws InterruptedException {
      assertTrue(writing.await(WAIT.toSeconds(), TimeUnit.SECONDS), "a write reached the journal");
    }

    void release() {
      release.countDown();
    }
  }

  private static Published message(String body, String id) {
    return new Published(ByteString.fromString(body), System.currentTimeMillis(), 0, id);
  }

  /** A real topic, spawned (not through sharding), once it takes publishes from its inbox. */
  private static String runningTopic(String prefix) throws Exception {
    String name = BrokerTestSystem.uniqueName(prefix);
    broker.testKit.spawn(Topic.create(name, BrokerTestSystem.SETTINGS));
    Await.until(WAIT, "topic " + name + " running", () -> LocalTopics.get(broker.system()).runs(name));
    return name;
  }

  private static List<Integer> writeSizes(String topic) {
    List<Integer> sizes = new ArrayList<>();
    for (Object e : journal.persistedInStorage(Topic.persistenceId(topic))) {
      if (e instanceof Topic.MessagesAppended a) sizes.add(a.messages().size());
    }
    return sizes;
  }

  @Test
  void publishesArrivingDuringAWriteBecomeOneNextWriteWithoutSharding() throws Exception {
    String topic = runningTopic("orders");
    long writes = metrics.get("herald.journal.write").timer().count();
    Hold hold = new Hold(Topic.persistenceId(topic));

    CompletableFuture<Topic.Appended> first = publisher.publish(topic, List.of(message("m0", null))).toCompletableFuture();
    hold.awaitWriting();
    List<CompletableFuture<Topic.Appended>> waiting = new ArrayList<>();
    for (int i = 1; i <= 10; i++) {
      waiting.add(publisher.publish(topic, List.of(message("m" + i, null))).toCompletableFuture());
    }
    assertFalse(first.isDone(), "no answer before the journal write ends");
    hold.release();

    assertEquals(new Topic.Appended(0, 1), first.get(20, TimeUnit.SECONDS));
    for (int i = 0; i < 10; i++) assertEquals(new Topic.Appended(1 + i, 1), waiting.get(i).get(20, TimeUnit.SECONDS));
    assertEquals(List.of(1, 10), writeSizes(topic), "ten publishes that waited, one write");
    assertEquals(List.of(), broker.routedTo(BrokerEntity.topicId(topic)), "nothing went through sharding");
    assertEquals(writes + 2, metrics.get("herald.journal.write").timer().count());
    assertEquals(11.0, metrics.get("herald.messages.published").tag("topic", topic).counter().count());
  }

  @Test
  void eachPublisherInAWriteHearsOfItsOwnDuplicates() throws Exception {
    String topic = runningTopic("invoices");
    Hold hold = new Hold(Topic.persistenceId(topic));

    CompletableFuture<Topic.Appended> a = publisher.publish(topic, List.of(message("a0", "x"))).toCompletableFuture();
    hold.awaitWriting();
    // Waiting behind a's write, they make the next one: b1 repeats a0's id, c0 repeats b0's, d1 is new.
    var b = publisher.publish(topic, List.of(message("b0", "y"), message("b1", "x"), message("b2", null))).toCompletableFuture();
    var c = publisher.publish(topic, List.of(message("c0", "y"))).toCompletableFuture();
    var d = publisher.publish(topic, List.of(message("d0", "x"), message("d1", "z"))).toCompletableFuture();
    hold.release();

    assertEquals(new Topic.Appended(0, 1), a.get(20, TimeUnit.SECONDS));
    assertEquals(new Topic.Appended(1, 2, List.of(1)), b.get(20, TimeUnit.SECONDS));
    assertEquals(new Topic.Appended(3, 0, List.of(0)), c.get(20, TimeUnit.SECONDS));
    assertEquals(new Topic.Appended(3, 1, List.of(0)), d.get(20, TimeUnit.SECONDS));
    assertEquals(List.of(1, 3), writeSizes(topic));
    assertEquals(3.0, metrics.get("herald.messages.duplicates").tag("topic", topic).counter().count());
  }

  @Test
  void aWriteNotConfirmedByTheDeadlineHasAnUnknownOutcomeAndWhatWaitedBehindItIsNotStored() throws Exception {
    String topic = runningTopic("receipts");
    LocalTopics local = LocalTopics.get(broker.system());
    Hold hold = new Hold(Topic.persistenceId(topic));
    long now = System.currentTimeMillis();
    // The margin (PublishBatcher.HANDED_MARGIN, 1 s) before each deadline leaves time to start the write.
    CompletableFuture<Topic.Appended> handed = new CompletableFuture<>();
    CompletableFuture<Topic.Appended> behind = new CompletableFuture<>();
    assertTrue(local.offer(topic, List.of(message("r", null)), now + 3_000, handed));
    hold.awaitWriting();
    assertTrue(local.offer(topic, List.of(message("s", null)), now + 4_000, behind));

    ExecutionException e = assertThrows(ExecutionException.class, () -> handed.get(20, TimeUnit.SECONDS));
    assertInstanceOf(Publisher.OutcomeUnknown.class, e.getCause());
    e = assertThrows(ExecutionException.class, () -> behind.get(20, TimeUnit.SECONDS));
    assertInstanceOf(Publisher.NotStored.class, e.getCause());

    hold.release();
    // The write in the journal's hands ends after all; the one that waited behind it is never written.
    CompletableFuture<Topic.Appended> after = new CompletableFuture<>();
    assertTrue(local.offer(topic, List.of(message("t", null)), System.currentTimeMillis() + 4_000, after));
    assertEquals(new Topic.Appended(1, 1), after.get(20, TimeUnit.SECONDS));
    assertEquals(List.of(1, 1), writeSizes(topic));
  }

  @Test
  void publishesWaitingForATopicThatStopsGoThroughShardingInstead() throws Exception {
    String topic = BrokerTestSystem.uniqueName("refunds");
    LocalTopics local = LocalTopics.get(broker.system());
    // A stand-in for the running topic that never takes what waits.
    TestProbe<Topic.Command> stalled = broker.testKit.createTestProbe();
    TopicInbox inbox = local.attach(topic, stalled.ref());

    CompletableFuture<Topic.Appended> f = publisher.publish(topic, List.of(message("r", null))).toCompletableFuture();
    stalled.expectMessage(WAIT, Topic.Drain.INSTANCE);
    local.detach(topic, inbox, stalled.ref());

    Topic.Append write = broker.expectRouted(BrokerEntity.topicId(topic), Topic.Append.class);
    assertEquals("r", write.messages().get(0).body().utf8String());
    assertFalse(f.isDone());
    write.replyTo().tell(StatusReply.success(new Topic.Appended(0, 1)));
    assertEquals(new Topic.Appended(0, 1), f.get(20, TimeUnit.SECONDS));
    assertFalse(local.runs(topic));
  }

  @Test
  void aTopicThatStopsAfterItsWriteLeavesWhatWaitedToSharding() throws Exception {
    String topic = BrokerTestSystem.uniqueName("vouchers");
    ActorRef<Topic.Command> ref = broker.testKit.spawn(Topic.create(topic, BrokerTestSystem.SETTINGS));
    Await.until(WAIT, "topic running", () -> LocalTopics.get(broker.system()).runs(topic));
    Hold hold = new Hold(Topic.persistenceId(topic));

    var first = publisher.publish(topic, List.of(message("v0", null))).toCompletableFuture();
    hold.awaitWriting();
    // Sharding's stop arrives during the write: the topic stops right after it, before its next write.
    ref.tell(BrokerEntity.Stop.INSTANCE);
    var second = publisher.publish(topic, List.of(message("v1", null))).toCompletableFuture();
    hold.release();

    assertEquals(new Topic.Appended(0, 1), first.get(20, TimeUnit.SECONDS));
    Topic.Append write = broker.expectRouted(BrokerEntity.topicId(topic), Topic.Append.class);
    assertEquals("v1", write.messages().get(0).body().utf8String());
    write.replyTo().tell(StatusReply.success(new Topic.Appended(1, 1)));
    assertEquals(new Topic.Appended(1, 1), second.get(20, TimeUnit.SECONDS));
    assertEquals(List.of(1), writeSizes(topic));
  }

  @Test
  void aTopicWhoseWriteFailsLeavesItsPublishesToShardingUntilItRecoveredAgain() throws Exception {
    String topic = runningTopic("bills");
    String pid = Topic.persistenceId(topic);
    LocalTopics local = LocalTopics.get(broker.system());
    // The journal is cut for this topic: its write fails, and so does every recovery after it.
    AtomicBoolean cut = new AtomicBoolean(true);
    journal.withPolicy(new ProcessingPolicy<JournalOperation>() {
      @Override
      public ProcessingResult tryProcess(String persistenceId, JournalOperation operation) {
        boolean failing = persistenceId.equals(pid) && cut.get()
            && (operation instanceof WriteEvents || operation instanceof ReadEvents || operation == ReadSeqNum$.MODULE$);
        return failing ? new StorageFailure(new RuntimeException("journal cut (test)")) : ProcessingSuccess$.MODULE$;
      }
    });

    CompletableFuture<Topic.Appended> lost = publisher.publish(topic, List.of(message("b0", null))).toCompletableFuture();
    Await.until(WAIT, "the failed topic left its inbox", () -> !local.runs(topic));
    // Restarting, and failing to recover, it takes no publish: they go through sharding, which
    // finds the topic wherever it runs next (in a cluster, on a node that can use the journal).
    CompletableFuture<Topic.Appended> next = publisher.publish(topic, List.of(message("b1", null))).toCompletableFuture();
    Topic.Append write = broker.expectRouted(BrokerEntity.topicId(topic), Topic.Append.class);
    assertEquals("b1", write.messages().get(0).body().utf8String());
    write.replyTo().tell(StatusReply.success(new Topic.Appended(7, 1)));
    assertEquals(new Topic.Appended(7, 1), next.get(20, TimeUnit.SECONDS));
    // The write in the failed journal call may or may not have landed: its outcome is unknown.
    ExecutionException e = assertThrows(ExecutionException.class, () -> lost.get(20, TimeUnit.SECONDS));
    assertInstanceOf(Publisher.OutcomeUnknown.class, e.getCause());

    cut.set(false);
    Await.until(WAIT, "the topic recovered and takes its inbox again", () -> local.runs(topic));
    assertEquals(new Topic.Appended(0, 1), publisher.publish(topic, List.of(message("b2", null))).toCompletableFuture()
        .get(20, TimeUnit.SECONDS));
    assertEquals(List.of(1), writeSizes(topic));
  }

  @Test
  void whileTheJournalFailsPublishesGoThroughShardingEvenToATopicRunningHere() throws Exception {
    String topic = runningTopic("tickets");
    LocalTopics local = LocalTopics.get(broker.system());
    local.journalWorks(() -> false);
    try {
      assertFalse(local.runs(topic));
      CompletableFuture<Topic.Appended> f = publisher.publish(topic, List.of(message("k", null))).toCompletableFuture();
      Topic.Append write = broker.expectRouted(BrokerEntity.topicId(topic), Topic.Append.class);
      assertEquals("k", write.messages().get(0).body().utf8String());
      write.replyTo().tell(StatusReply.success(new Topic.Appended(0, 1)));
      assertEquals(new Topic.Appended(0, 1), f.get(20, TimeUnit.SECONDS));
    } finally {
      local.journalWorks(() -> true);
    }
    assertTrue(local.runs(topic));
    assertEquals(List.of(), writeSizes(topic), "the running topic took nothing from its inbox");
  }

  @Test
  void aTopicGoneWithoutLeavingItsInboxStillGivesBackWhatWaited() throws Exception {
    String topic = BrokerTestSystem.uniqueName("coupons");
    LocalTopics local = LocalTopics.get(broker.system());
    // A stand-in for a topic that stops without its PostStop (Pekko's back-off restart holds the
    // signal back from a topic stopped while it waits to restart): it never takes what waits.
    TestProbe<Topic.Command> topicProbe = broker.testKit.createTestProbe();
    local.attach(topic, topicProbe.ref());

    CompletableFuture<Topic.Appended> f = publisher.publish(topic, List.of(message("c", null))).toCompletableFuture();
    topicProbe.expectMessage(WAIT, Topic.Drain.INSTANCE);
    topicProbe.stop();

    Topic.Append write = broker.expectRouted(BrokerEntity.topicId(topic), Topic.Append.class);
    assertEquals("c", write.messages().get(0).body().utf8String());
    write.replyTo().tell(StatusReply.success(new Topic.Appended(0, 1)));
    assertEquals(new Topic.Appended(0, 1), f.get(20, TimeUnit.SECONDS));
    assertFalse(local.runs(topic));
  }
}
