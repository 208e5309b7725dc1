package herald.cluster;

import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.persistence.testkit.JournalOperation;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.apache.pekko.persistence.testkit.ProcessingPolicy;
import org.apache.pekko.persistence.testkit.ProcessingResult;
import org.apache.pekko.persistence.testkit.ProcessingSuccess$;
import org.apache.pekko.persistence.testkit.StorageFailure;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * JournalWatch against Pekko's test journal made to fail every call on demand: the journal is
 * reported failing, the node lists itself unfit (Distributed Data, a one-node cluster) after
 * unfitAfter, and both clear once the journal answers again.
 */
class JournalWatchTest {
  static ActorTestKit kit;
  static final AtomicBoolean broken = new AtomicBoolean();

  @BeforeAll
  static void start() {
    kit = ActorTestKit.create("journal-watch-test", PersistenceTestKitPlugin.config().withFallback(ConfigFactory.parseString("""
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical.hostname = 127.0.0.1
        pekko.remote.artery.canonical.port = 0
        pekko.coordinated-shutdown.exit-jvm = off
        """)).withFallback(ConfigFactory.load()));
    Cluster cluster = Cluster.get(kit.system());
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    PersistenceTestKit.create(kit.system()).withPolicy(new ProcessingPolicy<JournalOperation>() {
      @Override
      public ProcessingResult tryProcess(String persistenceId, JournalOperation operation) {
        return broken.get() ? StorageFailure.create(new IllegalStateException("link cut")) : ProcessingSuccess$.MODULE$;
      }
    });
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  static void await(String what, java.util.concurrent.Callable<Boolean> condition) throws Exception {
    herald.e2e.Await.until(Duration.ofSeconds(20), what, condition);
  }

  @Test
  void aFailingJournalIsReportedAndTheNodeIsUnfitUntilItAnswersAgain() throws Exception {
    Cluster cluster = Cluster.get(kit.system());
    await("the node up", () -> cluster.selfMember().status() == MemberStatus.up());
    String self = cluster.selfMember().address().toString();
    JournalHealth health = new JournalHealth();
    kit.spawn(JournalWatch.create(health, Duration.ofSeconds(1), true));
    await("the first answer", () -> !health.failing() && health.problem() == null);
    assertFalse(health.unfitNodes().contains(self));

    broken.set(true);
    await("the journal reported failing", health::failing);
    assertTrue(health.problem().contains("link cut"), health.problem());
    await("this node listed unfit", () -> health.unfit() && health.unfitNodes().contains(self));
    assertTrue(health.failingFor().compareTo(Duration.ofSeconds(1)) >= 0, "unfit only after unfitAfter");

    broken.set(false);
    await("the journal answering again", () -> !health.failing() && health.problem() == null);
    await("this node fit again", () -> !health.unfit() && !health.unfitNodes().contains(self));
  }
}
