package herald.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Restarts in a cluster (docs/operations.md): a restarted first seed joins the running cluster even
 * when its members are slow to answer, a node that is told no seed is refused rather than forming a
 * second cluster on the same PostgreSQL journal, and a node the cluster removed exits as a failure,
 * so that its supervisor starts it again.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterRestartTest {
  private static final Duration WAIT = Duration.ofSeconds(90);

  static PostgresServer pg;
  static Path data;
  static final List<NodeProcess> nodes = new ArrayList<>();

  @BeforeAll
  static void startCluster() throws Exception {
    pg = PostgresServer.start();
    data = Files.createTempDirectory("herald-restart-");
    ClusterTest.startCluster(nodes, data, 3, i -> pg.nodeFlags());
  }

  @AfterAll
  static void stopCluster() throws Exception {
    for (NodeProcess n : nodes) n.close();
    if (pg != null) pg.close();
  }

  @Test
  @Order(1)
  void aFirstSeedRestartedWhileTheOthersStallJoinsThem() throws Exception {
    NodeProcess first = nodes.get(0);
    String seeds = nodes.stream().map(NodeProcess::clusterAddress).collect(Collectors.joining(","));
    String address = first.clusterAddress();
    int exit = first.terminate();
    assertTrue(exit == 0 || exit == 143, "exit " + exit);
    Await.until(WAIT, "node 1 gone: two members up", () -> ClusterTest.upMembers(nodes.get(1)) == 2);

    // Started again as docs/operations.md starts every node: the same --join list, itself first.
    NodeProcess restarted = NodeProcess.prepare(data.resolve("node1"),
        ClusterTest.concat(pg.nodeFlags(), "--cluster-address", address, "--join", seeds));
    nodes.add(restarted);
    nodes.get(1).signal("STOP");
    nodes.get(2).signal("STOP");
    try {
      restarted.spawn();
      int port = Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
      Await.until(WAIT, "the restarted node's cluster transport listens", () -> listens(port));
      // The stall (a loaded machine, a long GC pause) outlasts Pekko's seed-node-timeout (5 s),
      // after which a first seed that hears no other seed forms a cluster of its own: before the
      // journal's cluster lock it did, a second cluster on the same journal.
      Thread.sleep(8_000);
    } finally {
      nodes.get(1).signal("CONT");
      nodes.get(2).signal("CONT");
    }
    restarted.awaitReady();
    Await.until(WAIT, "the restarted node among the members node 2 sees", () -> ClusterTest.upMembers(nodes.get(1)) == 3);
    assertEquals(3, ClusterTest.upMembers(restarted), "the restarted node is in the cluster of nodes 2 and 3, not one of its own");
    assertTrue(restarted.log().contains("a cluster runs on this journal"), restarted.logTail());
  }

  @Test
  @Order(2)
  void aNodeWithoutSeedsIsRefusedWhileAClusterRunsOnItsJournal() throws Exception {
    List<String> flags = new ArrayList<>(List.of(pg.nodeFlags()));
    flags.addAll(List.of("--cluster-address", "127.0.0.1:0", "--start-timeout", "10s",
        "--data-path", data.resolve("alone").toString(), "--http-address", "127.0.0.1:0", "--tcp-address", "127.0.0.1:0"));
    Process p = new ProcessBuilder(NodeProcess.command(flags.toArray(String[]::new))).redirectErrorStream(true).start();
    String output;
    try {
      // --start-timeout 10s: the refusal comes after it.
      assertTrue(p.waitFor(90, TimeUnit.SECONDS), "the refused node exits");
      output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    } finally {
      p.destroyForcibly();   // a node that formed a cluster of its own instead (before the lock) never exits
    }
    assertEquals(1, p.exitValue(), output);
    assertTrue(output.contains("herald: a cluster runs on this journal, and this node may not form another one"), output);
    assertEquals(3, ClusterTest.upMembers(nodes.get(1)), "the running cluster is untouched");
  }

  @Test
  @Order(3)
  void aNodeTheClusterRemovedExitsAsAFailure() throws Exception {
    NodeProcess stalled = nodes.get(2);
    NodeProcess other = nodes.get(1);
    stalled.signal("STOP");
    try {
      // Stopped, it is marked unreachable and downed by the others (docs/operations.md, "When a node dies").
      Await.until(WAIT, "node 3 removed: two members up", () -> ClusterTest.upMembers(other) == 2);
    } finally {
      stalled.signal("CONT");
    }
    // It learns it was downed and stops; systemd's Restart=on-failure starts it again only on a failure exit.
    Await.until(WAIT, "node 3 stops", () -> !stalled.isAlive());
    String output = stalled.log();
    assertEquals(1, stalled.terminate(), output);
    assertTrue(output.contains("herald: the cluster removed this node (it was unreachable for too long)"), output);
  }

  private static boolean listens(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      return true;
    } catch (java.io.IOException e) {
      return false;
    }
  }
}
