package herald.broker;

import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Group commit: while one write is in flight, every publish that arrives waits and goes into the
 * next single write. The topic entity is replaced by a probe so the test decides when a write ends.
 */
class PublishBatcherTest {
  static ActorTestKit kit;
  static TestProbe<BrokerEntity.Command> topic;

  @BeforeAll
  static void start() {
    kit = ActorTestKit.create(ConfigFactory.parseString("""
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical.hostname = 127.0.0.1
        pekko.remote.artery.canonical.port = 0
        """)
        // Sharding remembers its entities in the journal: the in-memory one, not LevelDB on disk.
        .withFallback(PersistenceTestKitPlugin.config())
        .withFallback(PersistenceTestKitSnapshotPlugin.config())
        .withFallback(ConfigFactory.load()));
    Cluster cluster = Cluster.get(kit.system());
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    topic = kit.createTestProbe();
    ActorRef<BrokerEntity.Command> probe = topic.ref();
    ClusterSharding.get(kit.system()).init(Entity.of(BrokerEntity.KEY, ctx -> Behaviors.receiveMessage(m -> {
      probe.tell(m);
      return Behaviors.same();
    })));
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  static Published message(String body) {
    return new Published(ByteString.fromString(body), 1L, 0L);
  }

  @Test
  void publishesArrivingDuringAWriteBecomeOneNextWrite() throws Exception {
    ActorRef<PublishBatcher.Command> batcher = kit.spawn(PublishBatcher.create("orders"));
    CompletableFuture<Topic.Appended> first = new CompletableFuture<>();
    batcher.tell(new PublishBatcher.Publish(List.of(message("m0")), first));
    Topic.Append write1 = (Topic.Append) topic.expectMessageClass(Topic.Append.class, Duration.ofSeconds(20));
    assertEquals(1, write1.messages().size());

    List<CompletableFuture<Topic.Appended>> waiting = new ArrayList<>();
    for (int i = 1; i <= 10; i++) {
      CompletableFuture<Topic.Appended> f = new CompletableFuture<>();
      waiting.add(f);
      batcher.tell(new PublishBatcher.Publish(List.of(message("m" + i)), f));
    }
    topic.expectNoMessage(Duration.ofMillis(300));
    assertFalse(first.isDone(), "no answer before the journal write ends");

    write1.replyTo().tell(StatusReply.success(new Topic.Appended(0, 1)));
    assertEquals(0, first.get(5, TimeUnit.SECONDS).firstOffset());

    Topic.Append write2 = (Topic.Append) topic.expectMessageClass(Topic.Append.class);
    assertEquals(10, write2.messages().size(), "ten publishes, one write");
    for (int i = 0; i < 10; i++) assertEquals("m" + (i + 1), write2.messages().get(i).body().utf8String());
    write2.replyTo().tell(StatusReply.success(new Topic.Appended(1, 10)));
    for (int i = 0; i < 10; i++) assertEquals(1 + i, waiting.get(i).get(5, TimeUnit.SECONDS).firstOffset());
  }

  @Test
  void aFailedWriteFailsEveryPublishInIt() throws Exception {
    ActorRef<PublishBatcher.Command> batcher = kit.spawn(PublishBatcher.create("payments"));
    CompletableFuture<Topic.Appended> f = new CompletableFuture<>();
    batcher.tell(new PublishBatcher.Publish(List.of(message("x"), message("y")), f));
    Topic.Append write = (Topic.Append) topic.expectMessageClass(Topic.Append.class, Duration.ofSeconds(20));
    write.replyTo().tell(StatusReply.error("journal write failed"));
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
    assertEquals("journal write failed", e.getCause().getMessage());
  }

  @Test
  void eachPublisherHearsOfItsOwnDuplicates() throws Exception {
    // The topic names duplicates by their place in the whole write; the batcher splits them.
    ActorRef<PublishBatcher.Command> batcher = kit.spawn(PublishBatcher.create("invoices"));
    CompletableFuture<Topic.Appended> a = new CompletableFuture<>();
    batcher.tell(new PublishBatcher.Publish(List.of(message("a0")), a));
    Topic.Append write1 = (Topic.Append) topic.expectMessageClass(Topic.Append.class, Duration.ofSeconds(20));
    CompletableFuture<Topic.Appended> b = new CompletableFuture<>();
    CompletableFuture<Topic.Appended> c = new CompletableFuture<>();
    CompletableFuture<Topic.Appended> d = new CompletableFuture<>();
    batcher.tell(new PublishBatcher.Publish(List.of(message("b0"), message("b1"), message("b2")), b));
    batcher.tell(new PublishBatcher.Publish(List.of(message("c0")), c));
    batcher.tell(new PublishBatcher.Publish(List.of(message("d0"), message("d1")), d));
    write1.replyTo().tell(StatusReply.success(new Topic.Appended(0, 1)));
    assertEquals(new Topic.Appended(0, 1), a.get(5, TimeUnit.SECONDS));

    Topic.Append write2 = (Topic.Append) topic.expectMessageClass(Topic.Append.class);
    assertEquals(6, write2.messages().size());
    // b1, c0 and d1 were duplicates: three stored, from offset 1.
    write2.replyTo().tell(StatusReply.success(new Topic.Appended(1, 3, List.of(1, 3, 5))));
    assertEquals(new Topic.Appended(1, 2, List.of(1)), b.get(5, TimeUnit.SECONDS));
    assertEquals(new Topic.Appended(3, 0, List.of(0)), c.get(5, TimeUnit.SECONDS));
    assertEquals(new Topic.Appended(3, 1, List.of(1)), d.get(5, TimeUnit.SECONDS));
  }

  @Test
  void aWriteTheTopicDidNotTakeByItsDeadlineIsNotStored() throws Exception {
    ActorRef<PublishBatcher.Command> batcher = kit.spawn(PublishBatcher.create("refunds"));
    CompletableFuture<Topic.Appended> f = new CompletableFuture<>();
    long deadline = System.currentTimeMillis() + 2_000;
    batcher.tell(new PublishBatcher.Publish(List.of(message("r")), deadline, f));
    Topic.Append write = (Topic.Append) topic.expectMessageClass(Topic.Append.class, Duration.ofSeconds(20));
    // The topic must not start the write later than this: its "writing" note needs the margin.
    assertEquals(deadline - PublishBatcher.HANDED_MARGIN.toMillis(), write.deadline());
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
    assertInstanceOf(Publisher.NotStored.class, e.getCause());
  }

  @Test
  void aWriteHandedToTheJournalButNotConfirmedHasAnUnknownOutcome() throws Exception {
    ActorRef<PublishBatcher.Command> batcher = kit.spawn(PublishBatcher.create("receipts"));
    CompletableFuture<Topic.Appended> f = new CompletableFuture<>();
    CompletableFuture<Topic.Appended> behind = new CompletableFuture<>();
    batcher.tell(new PublishBatcher.Publish(List.of(message("r")), System.currentTimeMillis() + 2_000, f));
    Topic.Append write = (Topic.Append) topic.expectMessageClass(Topic.Append.class, Duration.ofSeconds(20));
    batcher.tell(new PublishBatcher.Publish(List.of(message("s")), System.currentTimeMillis() + 3_000, behind));
    write.handedTo().tell(new Topic.Writing(write.write()));
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
    assertInstanceOf(Publisher.OutcomeUnknown.class, e.getCause());
    // The one waiting behind it was never sent.
    e = assertThrows(ExecutionException.class, () -> behind.get(10, TimeUnit.SECONDS));
    assertInstanceOf(Publisher.NotStored.class, e.getCause());
  }

  @Test
  void aPublishWithNoTimeLeftIsNeverSent() throws Exception {
    ActorRef<PublishBatcher.Command> batcher = kit.spawn(PublishBatcher.create("vouchers"));
    CompletableFuture<Topic.Appended> f = new CompletableFuture<>();
    batcher.tell(new PublishBatcher.Publish(List.of(message("v")), System.currentTimeMillis() + 100, f));
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
    assertInstanceOf(Publisher.NotStored.class, e.getCause());
    // Answered at once, so a second is long enough to see that nothing was sent after it either.
    topic.expectNoMessage(Duration.ofSeconds(1));
  }

  @Test
  void whileAMemberIsUnreachableAWriteTheTopicDidNotTakeGoesAgainInANewTry() throws Exception {
    ActorRef<PublishBatcher.Command> batcher = kit.spawn(PublishBatcher.create("transfers", () -> true));
    CompletableFuture<Topic.Appended> f = new CompletableFuture<>();
    long sent = System.currentTimeMillis();
    batcher.tell(new PublishBatcher.Publish(List.of(message("t")), f));
    Topic.Append try1 = (Topic.Append) topic.expectMessageClass(Topic.Append.class, Duration.ofSeconds(20));
    // The topic may take this try only briefly: one sent to a dead node costs the window, not the deadline.
    assertTrue(try1.deadline() <= System.currentTimeMillis() + PublishBatcher.TRY_WINDOW.toMillis());
    // Not taken (no "writing" note): after the window and the margin it goes again, as a new write.
    Topic.Append try2 = (Topic.Append) topic.expectMessageClass(Topic.Append.class, Duration.ofSeconds(20));
    long again = System.currentTimeMillis();
    assertTrue(again - sent >= PublishBatcher.TRY_WINDOW.plus(PublishBatcher.HANDED_MARGIN).toMillis(),
        "sent again only once the topic refuses the first try: " + (again - sent) + " ms");
    assertTrue(try2.write() > try1.write());
    assertEquals(try1.messages(), try2.messages());
    // The first try's late answer is not the publish's: only the try in flight counts.
    try1.replyTo().tell(StatusReply.error(Errors.PUB_EXPIRED));
    try2.replyTo().tell(StatusReply.success(new Topic.Appended(7, 1)));
    assertEquals(new Topic.Appended(7, 1), f.get(5, TimeUnit.SECONDS));
  }

  @Test
  void aTryHandedToTheJournalIsNeverSentAgain() throws Exception {
    ActorRef<PublishBatcher.Command> batcher = kit.spawn(PublishBatcher.create("rebates", () -> true));
    CompletableFuture<Topic.Appended> f = new CompletableFuture<>();
    batcher.tell(new PublishBatcher.Publish(List.of(message("h")), f));
    Topic.Append write = (Topic.Append) topic.expectMessageClass(Topic.Append.class, Duration.ofSeconds(20));
    write.handedTo().tell(new Topic.Writing(write.write()));
    // It may be stored: a second try could store it twice. A new try would come after the window
    // and the margin (1.5 s); 2.5 s without one means none comes.
    topic.expectNoMessage(PublishBatcher.TRY_WINDOW.plus(PublishBatcher.HANDED_MARGIN).plusSeconds(1));
    write.replyTo().tell(StatusReply.success(new Topic.Appended(3, 1)));
    assertEquals(new Topic.Appended(3, 1), f.get(5, TimeUnit.SECONDS));
  }

  @Test
  void aTryNotTakenWithNoTimeLeftForAnotherIsNotStoredAndNotSentAgain() throws Exception {
    ActorRef<PublishBatcher.Command> batcher = kit.spawn(PublishBatcher.create("credits", () -> true));
    CompletableFuture<Topic.Appended> f = new CompletableFuture<>();
    long deadline = System.currentTimeMillis() + 2_500;
    batcher.tell(new PublishBatcher.Publish(List.of(message("c")), deadline, f));
    topic.expectMessageClass(Topic.Append.class, Duration.ofSeconds(20));
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
    assertInstanceOf(Publisher.NotStored.class, e.getCause());
    // Its only try is over (1.5 s) and 2.5 s would leave less than a window for another: a second
    // after the answer is long enough to see that no other try follows.
    topic.expectNoMessage(Duration.ofSeconds(1));
  }
}
