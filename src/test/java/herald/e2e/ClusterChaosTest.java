package herald.e2e;

import herald.cli.BenchLedger;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The cluster chaos run, by hand: three nodes on one PostgreSQL under SoakLoad, and in turn a node
 * SIGKILLed and started again, a node SIGSTOPped then SIGCONTinued, PostgreSQL stopped and
 * started. Ends in LOST (must be 0), duplicates and the longest publish outage.
 * {@code mvn -B verify -Dtest=ClusterChaosTest -Dsurefire.failIfNoSpecifiedTests=false -Dchaos.rounds=6 -Dchaos.round-seconds=20}
 * (figures in docs/operations.md). Not part of a plain {@code mvn verify}: a round takes most of a minute.
 */
class ClusterChaosTest {
  private static final int ROUNDS = Integer.getInteger("chaos.rounds", 0);
  private static final Duration ROUND = Duration.ofSeconds(Integer.getInteger("chaos.round-seconds", 20));

  @Test
  void killStopAndJournalOutagesLoseNothingAcknowledged() throws Exception {
    Assumptions.assumeTrue(ROUNDS > 0, "a by-hand run: -Dchaos.rounds=N");
    Path data = Files.createTempDirectory("herald-chaos-");
    List<NodeProcess> nodes = new ArrayList<>();
    try (PostgresServer pg = PostgresServer.start()) {
      List<Integer> ports = List.of(NodeProcess.freePort(), NodeProcess.freePort(), NodeProcess.freePort());
      String seeds = "127.0.0.1:" + ports.get(0) + ",127.0.0.1:" + ports.get(1) + ",127.0.0.1:" + ports.get(2);
      for (int i = 0; i < 3; i++) {
        List<String> flags = new ArrayList<>(List.of(pg.nodeFlags()));
        flags.addAll(List.of("--cluster-address", "127.0.0.1:" + ports.get(i), "--join", seeds));
        nodes.add(NodeProcess.prepare(data.resolve("node" + i), flags.toArray(String[]::new)));
      }
      nodes.get(0).launch();
      nodes.get(1).launch();
      nodes.get(2).launch();
      nodes.get(0).http().createChannel("chaos", "c");
      SoakLoad load = new SoakLoad("chaos", nodes);
      load.start(4, 2);
      for (int round = 0; round < ROUNDS; round++) {
        // Fixed load windows between faults: that is the chaos run, not a wait for a condition.
        Thread.sleep(ROUND.toMillis());
        // A node the cluster downed while stopped exits when continued: bring it back first.
        for (NodeProcess n : nodes) {
          if (n.isAlive()) continue;
          System.out.println("chaos: " + n.httpAddress() + " had exited (downed while stopped); started again");
          n.launch();
        }
        NodeProcess victim = nodes.get(round % 3);
        switch (round % 3) {
          case 0 -> {
            System.out.println("chaos: SIGKILL " + victim.httpAddress());
            victim.kill();
            Thread.sleep(ROUND.toMillis());
            victim.launch();
          }
          case 1 -> {
            System.out.println("chaos: SIGSTOP " + victim.httpAddress() + " for 10 s");
            victim.signal("STOP");
            Thread.sleep(10_000);
            victim.signal("CONT");
          }
          default -> {
            System.out.println("chaos: PostgreSQL stopped for 10 s");
            pg.stop();
            Thread.sleep(10_000);
            pg.startAgain();
          }
        }
      }
      Thread.sleep(ROUND.toMillis());
      BenchLedger.Counts c = load.drain(Duration.ofSeconds(180));
      System.out.printf("cluster chaos: %d rounds every %d s; %s%n", ROUNDS, ROUND.toSeconds(), load.summary(c));
      assertEquals(0, c.missing(), "LOST: acknowledged, never delivered; first " + c.firstMissing());
    } finally {
      for (NodeProcess n : nodes) n.close();
    }
  }
}
