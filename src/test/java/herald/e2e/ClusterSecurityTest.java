package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import herald.cluster.JournalCompatibility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Who may join a cluster: three nodes on one PostgreSQL journal, talking over mutual TLS (two with
 * PEM files, one with PKCS#12 stores, each its own certificate from the cluster's CA), and
 * strangers that try to join them. Run in this order; each step uses the cluster the first checks.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterSecurityTest {
  private static final Duration WAIT = Duration.ofSeconds(90);
  private static final int TOPICS = 16;

  static PostgresServer pg;
  static Path data;
  static String seeds;
  static Certificates.Authority clusterCa;
  /** The TLS flags of nodes 1 and 2: a certificate from the cluster's CA, as PEM files. */
  static String[] memberTls;
  static final List<NodeProcess> nodes = new ArrayList<>();

  @BeforeAll
  static void startCluster() throws Exception {
    pg = PostgresServer.start();
    data = Files.createTempDirectory("herald-cluster-security-");
    Path certs = data.resolve("certs");
    clusterCa = Certificates.authority(certs, "cluster");
    // Nodes 1 and 2 share a certificate as PEM files; node 3 has its own, in stores. Each keytool
    // run is a JVM start, so the test makes no more certificates than it needs.
    Certificates.Issued pem = Certificates.issue(clusterCa, certs, "node", "herald-cluster", false);
    memberTls = new String[] {"--cluster-tls-cert", pem.cert().toString(), "--cluster-tls-key", pem.key().toString(),
        "--cluster-tls-ca", pem.ca().toString()};
    Certificates.Issued third = Certificates.issue(clusterCa, certs, "node3", "herald-cluster", true);
    // The first node forms the cluster on a cluster port the OS picks; it is the others' seed.
    nodes.add(NodeProcess.start(data.resolve("node1"), flags("herald", memberTls)));
    seeds = nodes.get(0).clusterAddress();
    nodes.add(NodeProcess.prepare(data.resolve("node2"), flags("herald", memberTls)));
    nodes.add(NodeProcess.prepare(data.resolve("node3"), flags("herald",
            "--cluster-tls-keystore", third.keystore().toString(), "--cluster-tls-truststore", Certificates.truststore(clusterCa).toString()))
        .withEnv("HERALD_CLUSTER_TLS_PASSWORD", Certificates.PASSWORD));
    nodes.get(1).spawn();
    nodes.get(2).spawn();
    nodes.get(1).awaitReady();
    nodes.get(2).awaitReady();
    Await.until(WAIT, "three members up", () -> members(nodes.get(0)).values().stream().filter("up"::equals).count() == 3);
  }

  @AfterAll
  static void stopCluster() throws Exception {
    for (NodeProcess n : nodes) n.close();
    if (pg != null) pg.close();
  }

  /**
   * A cluster node's flags: its journal database, a cluster port the OS picks, the cluster's seed
   * (none for the first node, which forms the cluster), then more.
   */
  static String[] flags(String database, String... more) {
    List<String> flags = new ArrayList<>(List.of(pg.nodeFlags(database)));
    flags.addAll(List.of("--cluster-address", "127.0.0.1:0"));
    if (seeds != null) flags.addAll(List.of("--join", seeds));
    flags.addAll(List.of(more));
    return flags.toArray(String[]::new);
  }

  /** Cluster address -> status, as /cluster/nodes reports them. */
  static Map<String, String> members(NodeProcess via) throws Exception {
    Map<String, String> members = new ConcurrentHashMap<>();
    for (JsonNode n : via.http().get("/cluster/nodes").json().path("nodes")) {
      members.put(n.path("address").asText(), n.path("status").asText());
    }
    return members;
  }

  /** Members listed by {@code via} that are not one of the three cluster nodes, with their status. */
  static Set<String> strangersListed(NodeProcess via) throws Exception {
    Set<String> own = new HashSet<>();
    for (NodeProcess n : nodes) own.add("pekko://herald@" + n.clusterAddress());
    Set<String> listed = new HashSet<>();
    for (Map.Entry<String, String> m : members(via).entrySet()) {
      if (!own.contains(m.getKey())) listed.add(m.getKey() + " " + m.getValue());
    }
    return listed;
  }

  static String topic(int i) {
    return "secure-" + i;
  }

  @Test
  @Order(1)
  void aMessagePublishedOnOneNodeIsConsumedOnAnother() throws Exception {
    nodes.get(0).http().createChannel("hello", "c");
    assertEquals(200, nodes.get(1).http().post("/pub?topic=hello", "over the cluster").status());
    try (WsConsumer c = WsConsumer.subscribe(nodes.get(2), "topic=hello&channel=c")) {
      c.send("RDY 1");
      assertEquals("over the cluster", c.messages(1, WAIT).get(0).json().path("body").asText());
    }
  }

  @Test
  @Order(2)
  void aNodeWithoutTheClusterCertificateNeverJoins() throws Exception {
    NodeProcess entry = nodes.get(0);
    Path certs = data.resolve("certs");
    // A certificate from another CA, with the cluster's subject name; the node trusts the cluster's
    // CA (a CA certificate is public) and uses the cluster's own database: only its own
    // certificate gives it away, so the cluster's side of mutual TLS is what refuses it.
    Certificates.Issued forged = Certificates.issue(Certificates.authority(certs, "rogue"), certs, "rogue", "herald-cluster", false);
    // The strangers bind any free cluster port (0): every member that is not one of the three is one.
    NodeProcess withForged = NodeProcess.prepare(data.resolve("forged"), flags("herald",
        "--cluster-tls-cert", forged.cert().toString(), "--cluster-tls-key", forged.key().toString(),
        "--cluster-tls-ca", clusterCa.cert().toString(), "--start-timeout", "10s"));
    NodeProcess withNone = NodeProcess.prepare(data.resolve("plain"), flags("herald", "--start-timeout", "10s"));
    withForged.spawn();
    withNone.spawn();
    // Each tries the seeds for its whole start (10 s: two rounds of asking every seed) and gives
    // up; the cluster must never list either, in any status.
    Set<String> seen = new HashSet<>();
    Await.until(WAIT.plusSeconds(60), "both strangers give up", () -> {
      seen.addAll(strangersListed(entry));
      return !withForged.isAlive() && !withNone.isAlive();
    });
    for (NodeProcess stranger : List.of(withForged, withNone)) {
      String output = stranger.log();
      assertEquals(1, stranger.terminate(), output);
      assertTrue(output.contains("herald: could not join the cluster at " + seeds), output);
    }
    assertEquals(Set.of(), seen, "strangers listed as members");
    assertEquals(3, members(entry).values().stream().filter("up"::equals).count(), "the cluster is whole");
  }

  @Test
  @Order(3)
  void aNodeOnAnotherDatabaseIsRefusedAndEveryAcknowledgedMessageIsDelivered() throws Exception {
    NodeProcess entry = nodes.get(0);
    for (int i = 0; i < TOPICS; i++) entry.http().createChannel(topic(i), "kept");
    pg.createDatabase("stranger");

    // Publishes go on, to topics on every node, for the whole of the stranger's attempt.
    Map<String, Set<String>> acknowledged = new ConcurrentHashMap<>();
    AtomicBoolean stop = new AtomicBoolean();
    Thread publisher = new Thread(() -> {
      for (int n = 0; !stop.get(); n++) {
        String topic = topic(n % TOPICS);
        try {
          if (entry.http().post("/pub?topic=" + topic, "m-" + n).status() == 200) {
            acknowledged.computeIfAbsent(topic, t -> ConcurrentHashMap.newKeySet()).add("m-" + n);
          }
        } catch (Exception e) {
          // not acknowledged: not expected back
        }
      }
    });
    publisher.start();
    Await.until(WAIT, "publishing", () -> count(acknowledged) >= 50);

    // It holds a cluster certificate: only its journal gives it away. Any free cluster port (0).
    NodeProcess stranger = NodeProcess.prepare(data.resolve("stranger"), flags("stranger", memberTls));
    stranger.spawn();
    // While it tries, the cluster must never list it, in any status (joining, up, ...).
    Set<String> strangerSeenAs = new HashSet<>();
    Await.until(WAIT, "the stranger gives up", () -> {
      strangerSeenAs.addAll(strangersListed(entry));
      return !stranger.isAlive();
    });
    int acknowledgedDuringAttempt = count(acknowledged);
    String output = stranger.log();
    assertEquals(1, stranger.terminate(), output);
    assertTrue(output.contains("the cluster refused this node: " + JournalCompatibility.REFUSAL
        + " (this node uses database stranger"), output);
    assertEquals(Set.of(), strangerSeenAs, "the stranger was never a member");
    // The seed that answered says why, naming both journals (the stranger stops at the first answer,
    // so the other seeds may never have read its request).
    assertTrue(nodes.stream().map(NodeProcess::log).anyMatch(log -> log.contains("tried to join: "
            + JournalCompatibility.REFUSAL + ": this node uses database herald") && log.contains("the other database stranger")),
        "no seed logged the refusal");

    Await.until(WAIT, "more publishes after the attempt", () -> count(acknowledged) >= acknowledgedDuringAttempt + 50);
    stop.set(true);
    publisher.join();
    assertEquals(3, members(entry).values().stream().filter("up"::equals).count(), "the cluster is whole");

    // Every acknowledged message comes back from the cluster, through another node.
    for (Map.Entry<String, Set<String>> topic : acknowledged.entrySet()) {
      Set<String> got = new HashSet<>();
      try (WsConsumer c = WsConsumer.subscribe(nodes.get(2), "topic=" + topic.getKey() + "&channel=kept")) {
        c.send("RDY 100");
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!got.containsAll(topic.getValue()) && System.nanoTime() < deadline) {
          WsConsumer.Frame f = c.poll(Duration.ofSeconds(1));
          if (f == null || !f.type().equals("message")) continue;
          got.add(f.json().path("body").asText());
          c.send("FIN " + f.json().path("id").asText());
        }
      }
      Set<String> missing = new HashSet<>(topic.getValue());
      missing.removeAll(got);
      assertEquals(Set.of(), missing, "acknowledged on " + topic.getKey() + " but not delivered");
    }
    // And nothing was ever written to the stranger's database.
    try (Connection c = DriverManager.getConnection(pg.url("stranger"), "herald", "");
         ResultSet r = c.createStatement().executeQuery("SELECT count(*) FROM event_journal")) {
      r.next();
      assertEquals(0, r.getLong(1), "events in the stranger's journal");
    }
    System.out.printf("stranger refused: %d messages acknowledged on %d topics while and after it tried, all delivered%n",
        count(acknowledged), acknowledged.size());
  }

  private static int count(Map<String, Set<String>> acknowledged) {
    return acknowledged.values().stream().mapToInt(Set::size).sum();
  }
}
