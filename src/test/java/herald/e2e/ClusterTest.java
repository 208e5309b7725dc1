package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three (then four) node processes on one real PostgreSQL journal: SIGKILL of the node hosting a
 * topic, a node joining, a node leaving with SIGTERM. Run in this order; each step builds on the last.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterTest {
  private static final Duration WAIT = Duration.ofSeconds(90);
  /**
   * The bounds we state in docs/operations.md, with their margin for a busy 2-core machine: a
   * killed node's topics are served again within 10 s (asserted: 20 s); while they move, every
   * publish is answered, 200 or an error, within 5 s (asserted: 8 s); a node leaving with SIGTERM
   * exits within 3 s plus the hand-over of its entities (asserted: 8 s).
   */
  private static final Duration FAILOVER_BOUND = Duration.ofSeconds(20);
  private static final Duration ANSWER_BOUND = Duration.ofSeconds(8);
  private static final Duration LEAVE_BOUND = Duration.ofSeconds(8);
  private static final int TOPICS = 16;

  /** The steps find topics by their host in /stats: keep them running (an idle one has none). */
  private static final String[] KEEP_RUNNING = {"--passivate-idle-after", "30m"};

  static PostgresServer pg;
  static Path data;
  static final List<NodeProcess> nodes = new ArrayList<>();
  /** The topic whose host was killed in the idempotent-retry step (read by the replay step after it). */
  static String movedTopic;

  @BeforeAll
  static void startCluster() throws Exception {
    pg = PostgresServer.start();
    data = Files.createTempDirectory("herald-cluster-");
    // Node 4 is only prepared: the join step starts it.
    startCluster(nodes, data, 4, i -> concat(pg.nodeFlags(), KEEP_RUNNING));
  }

  /**
   * A cluster as the cluster tests start one, into {@code nodes} (so that whoever closes them closes
   * what started if a start fails): {@code count} nodes, node i with {@code flags.apply(i)} and its
   * ports the OS's choice; node 1 forms the cluster and the others are told to join it; nodes 2 and 3
   * start together and the three are awaited Up; any further ones are only prepared.
   */
  static void startCluster(List<NodeProcess> nodes, Path data, int count, IntFunction<String[]> flags) throws Exception {
    for (int i = 0; i < count; i++) {
      List<String> f = new ArrayList<>(List.of(flags.apply(i)));
      f.addAll(List.of("--cluster-address", "127.0.0.1:0"));
      if (i > 0) f.addAll(List.of("--join", nodes.get(0).clusterAddress()));
      nodes.add(NodeProcess.prepare(data.resolve("node" + (i + 1)), f.toArray(String[]::new)));
      if (i == 0) nodes.get(0).launch();
    }
    nodes.get(1).spawn();
    nodes.get(2).spawn();
    nodes.get(1).awaitReady();
    nodes.get(2).awaitReady();
    Await.until(Duration.ofSeconds(120), "three members up", () -> upMembers(nodes.get(0)) == 3);
  }

  static String[] concat(String[] a, String... b) {
    List<String> all = new ArrayList<>(List.of(a));
    all.addAll(List.of(b));
    return all.toArray(String[]::new);
  }

  @AfterAll
  static void stopCluster() throws Exception {
    for (NodeProcess n : nodes) n.close();
    if (pg != null) pg.close();
  }

  static int upMembers(NodeProcess via) throws Exception {
    int up = 0;
    for (JsonNode n : via.http().get("/cluster/nodes").json().path("nodes")) if (n.path("status").asText().equals("up")) up++;
    return up;
  }

  static String topic(int i) {
    return "orders-" + i;
  }

  /** Which node hosts each topic, by /stats' node field (the host's HTTP address). */
  static Map<String, String> hosts(NodeProcess via) throws Exception {
    Map<String, String> hosts = new HashMap<>();
    for (JsonNode t : via.http().get("/stats?format=json").json().path("topics")) {
      // A topic that is not running has no host (null): /stats does not start it.
      if (t.path("running").asBoolean()) hosts.put(t.path("topic_name").asText(), t.path("node").asText());
    }
    return hosts;
  }

  @Test
  @Order(1)
  void sigkillOfTheNodeHostingATopicLosesNoAcknowledgedMessage() throws Exception {
    NodeProcess entry = nodes.get(0);
    NodeProcess victim = nodes.get(1);
    NodeProcess consumerNode = nodes.get(2);
    HttpClientHelper http = entry.http();
    for (int i = 0; i < TOPICS; i++) {
      http.createChannel(topic(i), "billing");
    }
    Map<String, String> before = hosts(entry);
    String topic = before.entrySet().stream()
        .filter(e -> e.getValue().equals(victim.httpAddress())).map(Map.Entry::getKey).findFirst()
        .orElseThrow(() -> new AssertionError("no topic on node 2: " + before));

    // Consumers on node 3 FIN everything they get.
    Map<String, AtomicInteger> received = new ConcurrentHashMap<>();
    AtomicLong lastReceived = new AtomicLong();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> consumers = new ArrayList<>();
    List<WsConsumer> sockets = new CopyOnWriteArrayList<>();
    for (int c = 0; c < 2; c++) {
      WsConsumer ws = WsConsumer.subscribe(consumerNode, "topic=" + topic + "&channel=billing&client_id=c" + c);
      sockets.add(ws);
      ws.send("RDY 200");
      Thread t = new Thread(() -> {
        while (!stop.get()) {
          try {
            WsConsumer.Frame f = ws.poll(Duration.ofMillis(200));
            if (f == null || !f.type().equals("message")) continue;
            received.computeIfAbsent(f.json().path("body").asText(), k -> new AtomicInteger()).incrementAndGet();
            lastReceived.set(System.nanoTime());
            ws.send("FIN " + f.json().path("id").asText());
          } catch (Exception e) {
            return;
          }
        }
      });
      t.start();
      consumers.add(t);
    }

    // 20,000 messages through node 1 in batches of 100; a failed batch is retried until it is acknowledged.
    Set<String> acknowledged = ConcurrentHashMap.newKeySet();
    List<String> failures = new CopyOnWriteArrayList<>();
    AtomicLong killedAt = new AtomicLong();
    AtomicLong servingAgainAt = new AtomicLong();
    AtomicLong slowestAnswer = new AtomicLong();
    Thread publisher = new Thread(() -> {
      for (int b = 0; b < 200; b++) {
        StringBuilder body = new StringBuilder();
        for (int j = 0; j < 100; j++) body.append("m-").append(b).append('-').append(j).append('\n');
        while (true) {
          long sent = System.nanoTime();
          try {
            HttpClientHelper.Response r = http.post("/mpub?topic=" + topic, body.toString());
            if (killedAt.get() != 0) slowestAnswer.accumulateAndGet(System.nanoTime() - sent, Math::max);
            if (r.status() == 200) {
              for (String line : body.toString().split("\n")) acknowledged.add(line);
              // Served again: a publish sent after the kill (one sent before may be answered just after it).
              long killed = killedAt.get();
              if (killed != 0 && sent > killed && servingAgainAt.get() == 0) servingAgainAt.set(System.nanoTime());
              break;
            }
            failures.add("HTTP " + r.status() + " " + r.body());
          } catch (Exception e) {
            failures.add(e.getClass().getSimpleName());
          }
        }
      }
    });
    publisher.start();
    Await.until(WAIT, "10,000 acknowledged before the kill", () -> acknowledged.size() >= 10_000);
    victim.kill();
    killedAt.set(System.nanoTime());
    publisher.join(Duration.ofSeconds(180).toMillis());
    assertTrue(!publisher.isAlive(), "publisher finished");
    assertEquals(20_000, acknowledged.size());

    try {
      Await.until(WAIT, "every acknowledged message consumed", () -> received.keySet().containsAll(acknowledged));
    } catch (AssertionError e) {
      Set<String> missing = new HashSet<>(acknowledged);
      missing.removeAll(received.keySet());
      throw new AssertionError(e.getMessage() + ": " + missing.size() + " missing, e.g. "
          + missing.stream().sorted().limit(5).toList() + "; stats " + entry.http().get("/stats?format=json&topic=" + topic).body(), e);
    }
    stop.set(true);
    for (Thread t : consumers) t.join();
    for (WsConsumer ws : sockets) ws.close();

    long duplicates = received.values().stream().mapToInt(AtomicInteger::get).filter(n -> n > 1).mapToLong(n -> n - 1).sum();
    double failoverSeconds = (servingAgainAt.get() - killedAt.get()) / 1e9;
    System.out.printf("cluster failover: topic %s, %d acknowledged, %d delivered, %d duplicates, %d failed attempts %s, "
            + "publishing served again %.1f s after SIGKILL, slowest answer meanwhile %.1f s%n",
        topic, acknowledged.size(), received.size(), duplicates, failures.size(), new HashSet<>(failures), failoverSeconds,
        slowestAnswer.get() / 1e9);
    assertTrue(slowestAnswer.get() < ANSWER_BOUND.toNanos(), "a publish waited " + slowestAnswer.get() / 1e9 + " s for its answer");
    for (String f : failures) {
      assertTrue(f.startsWith("HTTP 5") || !f.startsWith("HTTP"), "a failed publish must be a 5xx or a broken connection: " + f);
    }
    assertTrue(servingAgainAt.get() > killedAt.get(), "publishing resumed after the kill");
    assertTrue(failoverSeconds < FAILOVER_BOUND.toSeconds(), "failover took " + failoverSeconds + " s");
    assertTrue(!hosts(entry).get(topic).equals(victim.httpAddress()), "the topic moved off the dead node");
  }

  @Test
  @Order(2)
  void aJoiningNodeTakesShardsAndTrafficGoesOn() throws Exception {
    NodeProcess joining = nodes.get(3);
    joining.launch();
    NodeProcess entry = nodes.get(0);
    Await.until(WAIT, "node 4 up and hosting shards", () -> {
      for (JsonNode n : entry.http().get("/cluster/nodes").json().path("nodes")) {
        if (n.path("http_address").asText().equals(joining.httpAddress())) {
          return n.path("status").asText().equals("up") && n.path("shards").asInt() > 0;
        }
      }
      return false;
    });
    // /stats is cluster-wide: every node reports the same topics on the same hosts.
    // (Shards may still be moving to the new node, so compare until a moment when they agree.)
    Await.until(WAIT, "the same topics on the same hosts from every node", () -> {
      Map<String, String> fromEntry = hosts(entry);
      return !fromEntry.isEmpty() && fromEntry.equals(hosts(joining)) && fromEntry.equals(hosts(nodes.get(2)));
    });
    // Any node takes a publish for any topic: through the new node, read back through another.
    for (int i = 0; i < TOPICS; i++) {
      assertEquals(200, entry.http().post("/channel/create?topic=" + topic(i) + "&channel=joined", "").status());
      assertEquals(200, joining.http().post("/mpub?topic=" + topic(i), "j-" + i + "-a\nj-" + i + "-b").status());
    }
    for (int i = 0; i < TOPICS; i++) {
      try (WsConsumer c = WsConsumer.subscribe(nodes.get(2), "topic=" + topic(i) + "&channel=joined")) {
        c.send("RDY 10");
        Set<String> got = new HashSet<>();
        for (WsConsumer.Frame f : c.messages(2, WAIT)) {
          got.add(f.json().path("body").asText());
          c.send("FIN " + f.json().path("id").asText());
        }
        assertEquals(Set.of("j-" + i + "-a", "j-" + i + "-b"), got);
      }
    }
  }

  @Test
  @Order(3)
  void aNodeLeavingWithSigtermHandsItsTopicsOverLosingNothing() throws Exception {
    NodeProcess leaving = nodes.get(3);
    NodeProcess entry = nodes.get(0);
    Map<String, String> hosts = hosts(entry);
    String topic = hosts.entrySet().stream().filter(e -> e.getValue().equals(leaving.httpAddress()))
        .map(Map.Entry::getKey).findFirst().orElseThrow(() -> new AssertionError("node 4 hosts no topic: " + hosts));
    assertEquals(200, entry.http().post("/channel/create?topic=" + topic + "&channel=leave", "").status());
    StringBuilder body = new StringBuilder();
    for (int i = 0; i < 100; i++) body.append("l-").append(i).append('\n');
    assertEquals(200, entry.http().post("/mpub?topic=" + topic, body.toString()).status());

    Map<String, Integer> seen = new HashMap<>();
    try (WsConsumer c = WsConsumer.subscribe(nodes.get(2), "topic=" + topic + "&channel=leave")) {
      c.send("RDY 5");
      // FIN 50, then hold 5 in flight while the hosting node leaves.
      for (int i = 0; i < 50; i++) {
        WsConsumer.Frame f = c.messages(1, WAIT).get(0);
        seen.merge(f.json().path("body").asText(), 1, Integer::sum);
        c.send("FIN " + f.json().path("id").asText());
      }
      List<WsConsumer.Frame> held = c.messages(5, WAIT);
      for (WsConsumer.Frame f : held) seen.merge(f.json().path("body").asText(), 1, Integer::sum);
      long sigterm = System.nanoTime();
      int exit = leaving.terminate();
      double leaveSeconds = (System.nanoTime() - sigterm) / 1e9;
      System.out.printf("cluster leave: SIGTERM to exit %.1f s%n", leaveSeconds);
      assertTrue(exit == 0 || exit == 143, "exit " + exit);
      assertTrue(leaveSeconds < LEAVE_BOUND.toSeconds(), "graceful stop took " + leaveSeconds + " s");
      Await.until(WAIT, "node 4 gone: two members up", () -> upMembers(entry) == 2);
      // The session follows the channel to its new node; what it held comes back, nothing else twice.
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (seen.size() < 100 && System.nanoTime() < deadline) {
        WsConsumer.Frame f = c.poll(Duration.ofSeconds(1));
        if (f == null || !f.type().equals("message")) continue;
        seen.merge(f.json().path("body").asText(), 1, Integer::sum);
        c.send("FIN " + f.json().path("id").asText());
      }
    }
    assertEquals(100, seen.size(), "every acknowledged message delivered");
    long twice = seen.values().stream().filter(n -> n > 1).count();
    System.out.printf("cluster leave: topic %s, 100 acknowledged, %d delivered twice (5 were in flight)%n", topic, twice);
    assertTrue(twice <= 5, "only what was in flight may come twice: " + twice);
  }

  @Test
  @Order(4)
  void aPostgresNodeCannotJoinASingleLevelDbNode() throws Exception {
    try (NodeProcess single = NodeProcess.start(data.resolve("single"), "--cluster-address", "127.0.0.1:0")) {
      List<String> flags = new ArrayList<>(List.of(pg.nodeFlags()));
      flags.addAll(List.of("--join", single.clusterAddress(), "--data-path", data.resolve("refused").toString(),
          "--http-address", "127.0.0.1:0", "--tcp-address", "127.0.0.1:0"));
      Process p = new ProcessBuilder(NodeProcess.command(flags.toArray(String[]::new))).redirectErrorStream(true).start();
      assertTrue(p.waitFor(90, java.util.concurrent.TimeUnit.SECONDS), "the refused node exits");
      String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertEquals(1, p.exitValue(), output);
      assertTrue(output.contains("the cluster refused this node: every node of a cluster needs --journal postgres"), output);
      assertEquals(1, upMembers(single), "the LevelDB node stays alone");
    }
  }

  @Test
  @Order(5)
  void aRetryWithTheSameIdAfterTheTopicMovedStoresNothingTwice() throws Exception {
    // Node 2 (killed in the first test) comes back, so a host can die again with a majority left.
    NodeProcess entry = nodes.get(0);
    if (!nodes.get(1).isAlive()) nodes.get(1).launch();
    Await.until(WAIT, "three members up", () -> upMembers(entry) == 3);
    for (int i = 0; i < TOPICS; i++) entry.http().createChannel("idem-" + i, "c");
    Map<String, String> hosts = hosts(entry);
    String topic = hosts.entrySet().stream()
        .filter(e -> e.getKey().startsWith("idem-") && !e.getValue().equals(entry.httpAddress()))
        .map(Map.Entry::getKey).findFirst().orElseThrow(() -> new AssertionError("every idem topic on node 1: " + hosts));
    NodeProcess host = nodes.stream().filter(n -> n.httpAddress().equals(hosts.get(topic))).findFirst().orElseThrow();
    String pub = "/pub?topic=" + topic;
    assertEquals(200, entry.http().post(pub, "charge 1", "X-Herald-Msg-Id", "charge-1").status());

    host.kill();
    // The publisher did not hear back (say) and retries with the same id until the topic answers
    // from its new node, which recovered it, ids included, from the shared journal.
    Await.until(WAIT, "the retry answered 200 once the topic moved", () -> {
      try {
        return entry.http().post(pub, "charge 1", "X-Herald-Msg-Id", "charge-1").status() == 200;
      } catch (java.io.IOException e) {
        return false;
      }
    });
    assertTrue(!hosts(entry).get(topic).equals(host.httpAddress()), "the topic moved off the killed node");
    movedTopic = topic;
    JsonNode stats = entry.http().stats(topic, null).path("topics").get(0);
    assertEquals(1, stats.path("message_count").asInt(), stats::toString);
    assertTrue(stats.path("dedup").path("duplicates").asInt() >= 1, stats::toString);

    assertEquals(200, entry.http().post(pub, "end").status());
    try (WsConsumer c = WsConsumer.subscribe(entry, "topic=" + topic + "&channel=c")) {
      c.send("RDY 10");
      List<String> bodies = new ArrayList<>();
      for (WsConsumer.Frame f : c.messages(2, WAIT)) bodies.add(f.json().path("body").asText());
      // Nothing came in between: "end" was published last, so a second copy would have come before it.
      assertEquals(List.of("charge 1", "end"), bodies);
    }
  }

  @Test
  @Order(6)
  void aChannelRewoundAfterItsTopicMovedGetsWhatTheTopicKeptAgain() throws Exception {
    // The topic of the step before moved off a killed node: its new host finds the start in the
    // shared journal. Its channel c holds "charge 1" and "end", delivered but not finished.
    NodeProcess entry = nodes.get(0);
    String topic = movedTopic;
    try (WsConsumer c = WsConsumer.subscribe(entry, "topic=" + topic + "&channel=c")) {
      c.send("RDY 10");
      List<JsonNode> first = new ArrayList<>();
      for (WsConsumer.Frame f : c.messages(2, WAIT)) first.add(f.json());
      for (JsonNode m : first) c.send("FIN " + m.path("id").asText());
      // Given back when the step before closed its socket, they may come in either order.
      long endPublished = first.stream().filter(m -> m.path("body").asText().equals("end")).findFirst()
          .orElseThrow().path("timestamp").asLong();

      assertEquals(200, entry.http().post("/channel/rewind?topic=" + topic + "&channel=c&to=earliest", "").status());
      assertEquals(200, entry.http().post("/pub?topic=" + topic, "after 1").status());
      assertEquals(List.of("charge 1", "end", "after 1"), readAgain(c, "after 1"));

      assertEquals(200, entry.http().post("/channel/rewind?topic=" + topic + "&channel=c&to=" + endPublished, "").status());
      assertEquals(200, entry.http().post("/pub?topic=" + topic, "after 2").status());
      assertEquals(List.of("end", "after 1", "after 2"), readAgain(c, "after 2"));
    }
  }

  /** Bodies up to {@code last}, FINed, each a first attempt again. */
  private static List<String> readAgain(WsConsumer c, String last) throws Exception {
    List<String> bodies = new ArrayList<>();
    while (bodies.isEmpty() || !bodies.get(bodies.size() - 1).equals(last)) {
      JsonNode m = c.await(f -> f.type().equals("message"), WAIT).json();
      assertEquals(1, m.path("attempts").asInt(), m::toString);
      c.send("FIN " + m.path("id").asText());
      bodies.add(m.path("body").asText());
    }
    return bodies;
  }
}
