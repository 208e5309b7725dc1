package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Max attempts per channel: a message whose delivery fails for the max-th time (timeout, REQ, its
 * consumer gone) lands in the channel's dead-letter topic and leaves the channel; after a SIGKILL
 * while messages are being dead-lettered, each is in exactly one of the two.
 */
class DeadLetterTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir
  Path data;

  private static void configure(HttpClientHelper http, String topic, String channel, String json) throws Exception {
    HttpClientHelper.Response r = http.post("/channel/config?topic=" + topic + "&channel=" + channel, json);
    assertEquals(200, r.status(), r.body());
  }

  /** The next message of a dead-letter topic's channel, FINed. */
  private static JsonNode deadLetter(WsConsumer c) throws Exception {
    JsonNode m = c.messages(1, WAIT).get(0).json();
    c.send("FIN " + m.path("id").asText());
    return m;
  }

  @Test
  void theMaxThFailureByTimeoutReqOrDisconnectDeadLettersTheMessage() throws Exception {
    NodeProcess node = NodeProcess.start(data.resolve("node"), "--passivate-idle-after", "2s");
    try {
      HttpClientHelper http = node.http();
      http.createChannel("jobs", "slow");
      http.createChannel("jobs", "picky");
      http.createChannel("jobs", "flaky");
      // Bad settings are refused and change nothing.
      for (String bad : List.of("{\"max_attempts\": -1}", "{\"max_attempts\": 2.5}", "{\"dead_letter_topic\": \"jobs\"}",
          "{\"dead_letter_topic\": \"no spaces\"}", "{\"max_attempt\": 2}", "[2]", "not json")) {
        HttpClientHelper.Response r = http.post("/channel/config?topic=jobs&channel=slow", bad);
        assertEquals(400, r.status(), bad);
        assertEquals("INVALID_CONFIG", r.code(), bad);
      }
      assertEquals(404, http.post("/channel/config?topic=jobs&channel=nobody", "{\"max_attempts\": 2}").status());
      configure(http, "jobs", "slow", "{\"max_attempts\": 2}");
      configure(http, "jobs", "picky", "{\"max_attempts\": 3, \"dead_letter_topic\": \"jobs.rejected\"}");
      configure(http, "jobs", "flaky", "{\"max_attempts\": 2}");
      // The dead-letter topics get a channel before anything reaches them (they keep it anyway).
      http.createChannel("jobs.slow.dead", "ops");
      http.createChannel("jobs.rejected", "ops");
      http.createChannel("jobs.flaky.dead", "ops");
      assertEquals(200, http.post("/pub?topic=jobs", "poison").status());

      // Timeouts: never FINed, two deliveries of a second each.
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=jobs&channel=slow&msg_timeout=1000")) {
        c.send("RDY 1");
        List<WsConsumer.Frame> got = c.messages(2, WAIT);
        assertEquals(List.of(1, 2), got.stream().map(f -> f.json().path("attempts").asInt()).toList());
        try (WsConsumer ops = WsConsumer.subscribe(node, "topic=jobs.slow.dead&channel=ops")) {
          ops.send("RDY 1");
          JsonNode m = deadLetter(ops);
          assertEquals("poison", m.path("body").asText());
          assertEquals("pos jobs slow 0", m.path("msg_id").asText(), "its origin: topic, channel and position");
        }
        // A negative check: with a 1 s timeout a third delivery would come within about a second.
        assertNull(c.poll(Duration.ofSeconds(2)), "no third delivery");
        // Read while the consumer is connected: the channel cannot stop for idleness (timeout_count
        // lives in memory).
        Await.until(WAIT, "slow counted", () -> http.channelStats("jobs", "slow").path("dead_letter_count").asInt() == 1);
        JsonNode slow = http.channelStats("jobs", "slow");
        assertTrue(slow.path("timeout_count").asInt() >= 2, slow::toString);
      }
      JsonNode slow = http.channelStats("jobs", "slow");
      assertEquals(1, slow.path("dead_letter_count").asInt(), slow::toString);
      assertEquals(2, slow.path("max_attempts").asInt());
      assertEquals("jobs.slow.dead", slow.path("dead_letter_topic").asText());
      assertEquals(0, slow.path("depth").asInt());

      // REQ: three times, to the named dead-letter topic.
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=jobs&channel=picky")) {
        c.send("RDY 1");
        for (int attempt = 1; attempt <= 3; attempt++) {
          JsonNode m = c.messages(1, WAIT).get(0).json();
          assertEquals(attempt, m.path("attempts").asInt());
          c.send("REQ " + m.path("id").asText() + " 0");
        }
        try (WsConsumer ops = WsConsumer.subscribe(node, "topic=jobs.rejected&channel=ops")) {
          ops.send("RDY 1");
          assertEquals("pos jobs picky 0", deadLetter(ops).path("msg_id").asText());
        }
        Await.until(WAIT, "picky counted", () -> http.channelStats("jobs", "picky").path("dead_letter_count").asInt() == 1);
      }

      // Consumer gone: two consumers in turn disconnect while holding it.
      for (int attempt = 1; attempt <= 2; attempt++) {
        try (WsConsumer c = WsConsumer.subscribe(node, "topic=jobs&channel=flaky")) {
          c.send("RDY 1");
          assertEquals(attempt, c.messages(1, WAIT).get(0).json().path("attempts").asInt());
        }
      }
      try (WsConsumer ops = WsConsumer.subscribe(node, "topic=jobs.flaky.dead&channel=ops")) {
        ops.send("RDY 1");
        assertEquals("poison", deadLetter(ops).path("body").asText());
      }
      Await.until(WAIT, "flaky counted", () -> http.channelStats("jobs", "flaky").path("dead_letter_count").asInt() == 1);
      assertEquals(0, http.channelStats("jobs", "flaky").path("depth").asInt());

      Map<String, Double> metrics = MetricsTest.samples(http.get("/metrics").body());
      assertEquals(1.0, metrics.get("herald_channel_dead_letters_total{node=\"" + node.httpAddress()
          + "\",topic=\"jobs\",channel=\"picky\"}"), metrics.keySet()::toString);
      assertTrue(http.get("/stats?topic=jobs").body().contains("dead letters: 1 max attempts: 3 to: jobs.rejected"));

      // Idle channels stop (passivate); /stats still has their dead-letter figures.
      Await.until(WAIT, "every topic and channel passivated", () -> DurabilityTest.hostedEntities(http) == 0);
      JsonNode picky = http.channelStats("jobs", "picky");
      assertEquals("idle", picky.path("state").asText(), picky::toString);
      assertEquals(1, picky.path("dead_letter_count").asInt(), picky::toString);
      assertEquals(3, picky.path("max_attempts").asInt());
      assertEquals("jobs.rejected", picky.path("dead_letter_topic").asText());
    } finally {
      node.close();
    }
  }

  private static int deadLetters(HttpClientHelper http) throws Exception {
    return http.channelStats("work.w.dead", "ops").path("depth").asInt();
  }

  @Test
  void afterASigkillWhileDeadLetteringEveryMessageIsInExactlyOnePlace() throws Exception {
    int n = 2000;
    NodeProcess node = NodeProcess.start(data.resolve("node"));
    try {
      HttpClientHelper http = node.http();
      int deadAtKill;
      http.createChannel("work", "w");
      http.createChannel("work.w.dead", "ops");
      configure(http, "work", "w", "{\"max_attempts\": 1}");
      StringBuilder bodies = new StringBuilder();
      for (int i = 0; i < n; i++) bodies.append("m-").append(i).append('\n');
      assertEquals(200, http.post("/mpub?topic=work", bodies.toString()).status());

      // Every delivery is REQed: its first failure is its last. The consumer looks at /stats after
      // each REQ, so the dead letters go out over seconds, batch by batch; the node is killed once
      // some have reached the dead-letter topic, with others decided, being published, or in
      // flight (up to RDY 50: their consumer is gone with the node, which counts as a failure).
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=work&channel=w")) {
        c.send("RDY 50");
        for (int i = 0; deadLetters(http) < n / 10; i++) {
          WsConsumer.Frame f = c.poll(Duration.ofSeconds(1));
          if (f != null) c.send("REQ " + f.json().path("id").asText() + " 0");
          assertTrue(i < n + 1000, "dead letters do not reach the dead-letter topic");
        }
        deadAtKill = deadLetters(http);
        node.kill();
      }
      node.launch();

      // What the channel still has goes to a consumer that FINs it; the rest to the dead-letter topic.
      Set<String> inChannel = new HashSet<>();
      Map<String, Integer> dead = new HashMap<>();
      List<String> duplicates = new ArrayList<>();
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=work&channel=w");
           WsConsumer ops = WsConsumer.subscribe(node, "topic=work.w.dead&channel=ops")) {
        c.send("RDY 200");
        ops.send("RDY 200");
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        // Takes what either side has at once; waits a little only while both have nothing (a wait
        // on the side that is done, per message of the other, made this loop take 90 s).
        Duration wait = Duration.ZERO;
        while (inChannel.size() + dead.size() < n && System.nanoTime() < deadline) {
          WsConsumer.Frame f = c.poll(wait);
          if (f != null) {
            if (!inChannel.add(f.json().path("body").asText())) duplicates.add(f.json().path("body").asText());
            c.send("FIN " + f.json().path("id").asText());
          }
          WsConsumer.Frame d = ops.poll(f == null ? wait : Duration.ZERO);
          if (d != null) {
            dead.merge(d.json().path("body").asText(), 1, Integer::sum);
            ops.send("FIN " + d.json().path("id").asText());
          }
          wait = f == null && d == null ? Duration.ofMillis(20) : Duration.ZERO;
        }
        // A negative check: nothing more comes from either side once all are accounted for.
        assertNull(c.poll(Duration.ofSeconds(1)));
        assertNull(ops.poll(Duration.ofMillis(200)));
      }
      Set<String> both = new HashSet<>(inChannel);
      both.retainAll(dead.keySet());
      Set<String> neither = new HashSet<>();
      for (int i = 0; i < n; i++) if (!inChannel.contains("m-" + i) && !dead.containsKey("m-" + i)) neither.add("m-" + i);
      Map<String, Integer> twice = new HashMap<>(dead);
      twice.values().removeIf(count -> count == 1);
      System.out.printf("dead letters after SIGKILL: %d dead-lettered (%d stored before the kill), %d left in the channel%n",
          dead.size(), deadAtKill, inChannel.size());
      assertEquals(Set.of(), neither, "in neither place");
      assertEquals(Set.of(), both, "in both places");
      assertEquals(Map.of(), twice, "stored twice in the dead-letter topic");
      assertEquals(List.of(), duplicates, "delivered twice by the channel after the restart");
      assertTrue(dead.size() >= n / 10, "dead letters before the kill are kept: " + dead.size());
    } finally {
      node.close();
    }
  }
}
