package herald.e2e;

import herald.cli.BenchLedger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bounded crash soak: one node on LevelDB, rounds of SIGKILL while publishers send /pub and
 * /mpub and consumers FIN what they get; then a drain. Ends with LOST (acknowledged, never
 * delivered; must be 0), duplicates and the longest publish outage (see SoakLoad).
 *
 * In {@code mvn verify}: 3 rounds of 5 s. The long run, by hand (figures in docs/operations.md):
 * {@code mvn -B verify -Dtest=CrashSoakTest -Dsurefire.failIfNoSpecifiedTests=false -Dsoak.rounds=15 -Dsoak.round-seconds=20}
 */
class CrashSoakTest {
  private static final int ROUNDS = Integer.getInteger("soak.rounds", 3);
  private static final Duration ROUND = Duration.ofSeconds(Integer.getInteger("soak.round-seconds", 5));

  @TempDir
  Path data;

  @Test
  void sigkillUnderLoadLosesNothingAcknowledged() throws Exception {
    try (NodeProcess node = NodeProcess.start(data.resolve("node"))) {
      node.http().createChannel("soak", "c");
      SoakLoad load = new SoakLoad("soak", List.of(node));
      load.start(4, 2);
      for (int round = 0; round < ROUNDS; round++) {
        // The load runs for a fixed time before each kill: that is the soak, not a wait for a condition.
        Thread.sleep(ROUND.toMillis());
        node.kill();
        node.launch();
      }
      Thread.sleep(ROUND.toMillis());
      BenchLedger.Counts c = load.drain(Duration.ofSeconds(120));
      System.out.printf("crash soak: %d rounds of SIGKILL every %d s; %s%n", ROUNDS, ROUND.toSeconds(), load.summary(c));
      assertEquals(0, c.missing(), "LOST: acknowledged, never delivered; first " + c.firstMissing());
      assertTrue(c.acked() > 0);
    }
  }
}
