package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three nodes on one PostgreSQL; node 3 reaches it through a TCP proxy that the test cuts while
 * clients publish through node 3 (HTTP /mpub and NSQ TCP PUB) to a topic node 3 hosts. An error
 * answer means "not stored": no message answered 503 (TCP: E_PUB_FAILED) is ever delivered; every acknowledged one is; the topic is served again
 * (through node 3, which forwards) once it moved to a node that can write; after the heal node 3's
 * journal answers again and it takes shards back.
 */
class JournalLinkTest {
  private static final Duration WAIT = Duration.ofSeconds(90);
  /**
   * Aims (docs/operations.md, "Journal link"): served again within 15 s of the cut, the journal
   * answering again within 5 s of the heal. Asserted with margin for a busy 2-core machine.
   */
  private static final Duration SERVED_AGAIN_BOUND = Duration.ofSeconds(25);
  private static final Duration RECOVERY_BOUND = Duration.ofSeconds(10);
  /** A publish's deadline (PublishBatcher.PUBLISH_TIMEOUT): no topic writes it after this. */
  private static final Duration PUBLISH_DEADLINE = Duration.ofSeconds(4);

  static PostgresServer pg;
  static TcpProxy proxy;
  static final List<NodeProcess> nodes = new ArrayList<>();

  @BeforeAll
  static void startCluster() throws Exception {
    pg = PostgresServer.start();
    int pgPort = Integer.parseInt(pg.url().replaceAll(".*:(\\d+)/.*", "$1"));
    proxy = TcpProxy.start(pgPort);
    Path data = Files.createTempDirectory("herald-journal-link-");
    // Node 3 reaches PostgreSQL through the proxy.
    ClusterTest.startCluster(nodes, data, 3, i -> new String[] {"--journal", "postgres", "--postgres-user", "herald",
        "--postgres-url", i == 2 ? "jdbc:postgresql://127.0.0.1:" + proxy.port() + "/herald" : pg.url(),
        "--passivate-idle-after", "30m"});
  }

  @AfterAll
  static void stopCluster() throws Exception {
    for (NodeProcess n : nodes) n.close();
    if (proxy != null) proxy.close();
    if (pg != null) pg.close();
  }

  /** {@code node} as {@code via}'s /cluster/nodes lists it. */
  static JsonNode member(NodeProcess via, NodeProcess node) throws Exception {
    for (JsonNode n : via.http().get("/cluster/nodes").json().path("nodes")) {
      if (n.path("http_address").asText().equals(node.httpAddress())) return n;
    }
    throw new AssertionError(node.httpAddress() + " not a member");
  }

  @Test
  void aNodeCutOffFromPostgresHandsItsTopicsOverAndAnErrorAnswerIsNeverStored() throws Exception {
    NodeProcess entry = nodes.get(0);
    NodeProcess cutNode = nodes.get(2);
    for (int i = 0; i < 12; i++) entry.http().createChannel("link-" + i, "c");
    String topic = Await.value(WAIT, "a topic on node 3", () -> ClusterTest.hosts(entry).entrySet().stream()
        .filter(e -> e.getValue().equals(cutNode.httpAddress())).map(Map.Entry::getKey).findFirst().orElse(null));

    // A consumer on node 1 FINs everything it gets.
    Set<String> received = ConcurrentHashMap.newKeySet();
    AtomicBoolean stop = new AtomicBoolean();
    WsConsumer ws = WsConsumer.subscribe(entry, "topic=" + topic + "&channel=c");
    ws.send("RDY 200");
    Thread consumer = new Thread(() -> {
      while (!stop.get()) {
        try {
          WsConsumer.Frame f = ws.poll(Duration.ofMillis(200));
          if (f == null || !f.type().equals("message")) continue;
          received.add(f.json().path("body").asText());
          ws.send("FIN " + f.json().path("id").asText());
        } catch (Exception e) {
          return;
        }
      }
    });
    consumer.start();

    // One client publishes batches of 10 through node 3, one at a time, and sorts the answers.
    Set<String> acknowledged = ConcurrentHashMap.newKeySet();
    Set<String> notStored = ConcurrentHashMap.newKeySet();      // 503, E_PUB_FAILED: never to be delivered
    Set<String> unknown = ConcurrentHashMap.newKeySet();        // 504, E_PUB_UNKNOWN or a broken connection
    List<String> unexpected = new CopyOnWriteArrayList<>();
    AtomicLong cutAt = new AtomicLong();
    AtomicLong servedAgainAt = new AtomicLong();
    AtomicLong lastErrorSent = new AtomicLong();
    AtomicLong slowestAnswer = new AtomicLong();
    AtomicBoolean publishing = new AtomicBoolean(true);
    HttpClientHelper http = cutNode.http();
    Thread publisher = new Thread(() -> {
      for (int b = 0; publishing.get(); b++) {
        List<String> lines = new ArrayList<>();
        for (int j = 0; j < 10; j++) lines.add("m-" + b + "-" + j);
        long sent = System.nanoTime();
        try {
          HttpClientHelper.Response r = http.post("/mpub?topic=" + topic, String.join("\n", lines));
          slowestAnswer.accumulateAndGet(System.nanoTime() - sent, Math::max);
          switch (r.status()) {
            case 200 -> {
              acknowledged.addAll(lines);
              // Sent after the cut: only a node that can reach the journal could have written it.
              if (cutAt.get() != 0 && sent > cutAt.get() && servedAgainAt.get() == 0) servedAgainAt.set(System.nanoTime());
            }
            case 503 -> notStored.addAll(lines);
            case 504 -> unknown.addAll(lines);
            default -> unexpected.add(r.status() + " " + r.body());
          }
          if (r.status() != 200) lastErrorSent.set(sent);
        } catch (Exception e) {
          unknown.addAll(lines);
          lastErrorSent.set(sent);
        }
      }
    });
    // ... and another publishes single messages through node 3 with NSQ's TCP PUB.
    Map<String, java.util.concurrent.atomic.AtomicInteger> tcpAnswers = new ConcurrentHashMap<>();
    Thread tcpPublisher = new Thread(() -> {
      NsqSocket nsq = null;
      for (int n = 0; publishing.get(); n++) {
        String body = "t-" + n;
        long sent = System.nanoTime();
        String answer;
        try {
          if (nsq == null) nsq = new NsqSocket(cutNode.tcpPort());
          nsq.send("PUB " + topic, body);
          answer = nsq.next(Duration.ofSeconds(30)).text().split(" ")[0];
        } catch (Exception | AssertionError e) {
          answer = "broken";
        }
        tcpAnswers.computeIfAbsent(answer, a -> new java.util.concurrent.atomic.AtomicInteger()).incrementAndGet();
        switch (answer) {
          case "OK" -> acknowledged.add(body);
          case "E_PUB_FAILED" -> notStored.add(body);
          case "E_PUB_UNKNOWN", "broken" -> unknown.add(body);
          default -> unexpected.add("TCP " + answer);
        }
        if (!answer.equals("OK")) {
          lastErrorSent.set(sent);
          // Every error is fatal for an NSQ connection: the next publish opens another.
          try {
            if (nsq != null) nsq.close();
          } catch (Exception ignored) {
            // closed by the node already
          }
          nsq = null;
        }
      }
    });
    publisher.start();
    tcpPublisher.start();
    Await.until(WAIT, "300 acknowledged before the cut", () -> acknowledged.size() >= 300);

    proxy.cut();
    cutAt.set(System.nanoTime());
    Await.until(WAIT, "node 3 reports its journal failing", () ->
        cutNode.http().get("/stats?format=json").json().path("health").asText().contains("journal unreachable")
            && cutNode.http().get("/metrics").body().matches("(?s).*\\nherald_journal_failing\\{[^}]*} 1.*"));
    Await.until(WAIT, "a publish through node 3 acknowledged again during the cut", () -> servedAgainAt.get() != 0);
    double servedAgain = (servedAgainAt.get() - cutAt.get()) / 1e9;
    Await.until(WAIT, "node 3 listed unfit, hosting no shard", () -> {
      JsonNode n = member(entry, cutNode);
      return n.path("journal_unfit").asBoolean() && n.path("shards").asInt() == 0;
    });
    long acknowledgedDuringCut = acknowledged.size();
    Await.until(WAIT, "200 more acknowledged during the cut", () -> acknowledged.size() >= acknowledgedDuringCut + 200);

    proxy.heal();
    long healedAt = System.nanoTime();
    Await.until(WAIT, "node 3's journal answers again", () ->
        cutNode.http().get("/stats?format=json").json().path("health").asText().equals("OK"));
    double recovered = (System.nanoTime() - healedAt) / 1e9;
    Await.until(WAIT, "node 3 fit again and taking shards", () -> {
      JsonNode n = member(entry, cutNode);
      return !n.path("journal_unfit").asBoolean() && n.path("shards").asInt() > 0;
    });
    double hostingAgain = (System.nanoTime() - healedAt) / 1e9;
    publishing.set(false);
    publisher.join(Duration.ofSeconds(60).toMillis());
    tcpPublisher.join(Duration.ofSeconds(60).toMillis());

    // Past every error answer's deadline no topic writes it; a marker written after that comes
    // after any such write in the topic, so once it arrives nothing refused can still come.
    Await.until(WAIT, "every errored publish past its deadline",
        () -> System.nanoTime() - lastErrorSent.get() > PUBLISH_DEADLINE.toNanos());
    assertEquals(200, entry.http().post("/pub?topic=" + topic, "marker").status());
    try {
      Await.until(WAIT, "every acknowledged message and the marker consumed",
          () -> received.contains("marker") && received.containsAll(acknowledged));
    } catch (AssertionError e) {
      Set<String> missing = new HashSet<>(acknowledged);
      missing.removeAll(received);
      throw new AssertionError(e.getMessage() + ": " + missing.size() + " missing, e.g. " + missing.stream().sorted().limit(5).toList(), e);
    }
    stop.set(true);
    consumer.join();
    ws.close();

    Set<String> delivered503 = new HashSet<>(notStored);
    delivered503.retainAll(received);
    long unknownStored = unknown.stream().filter(received::contains).count();
    System.out.printf("journal link cut: topic %s, %d acknowledged, %d answered 503, %d answered 504 or broken (%d of them stored), "
            + "served again through node 3 %.1f s after the cut, slowest answer %.1f s; after the heal: journal answering in %.1f s, "
            + "node 3 hosting shards again in %.1f s; NSQ TCP PUB answers %s%n",
        topic, acknowledged.size(), notStored.size(), unknown.size(), unknownStored, servedAgain, slowestAnswer.get() / 1e9,
        recovered, hostingAgain, tcpAnswers);
    assertTrue(unexpected.isEmpty(), "answers other than 200, 503, 504 (TCP: OK, E_PUB_FAILED, E_PUB_UNKNOWN): " + unexpected);
    assertTrue(delivered503.isEmpty(), delivered503.size() + " messages answered 503 (or E_PUB_FAILED) were delivered, e.g. "
        + delivered503.stream().sorted().limit(5).toList());
    assertTrue(servedAgain < SERVED_AGAIN_BOUND.toSeconds(), "served again " + servedAgain + " s after the cut");
    assertTrue(recovered < RECOVERY_BOUND.toSeconds(), "journal answering again " + recovered + " s after the heal");
  }
}
