package herald.e2e;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A publisher that retries every unknown outcome with the same X-Herald-Msg-Id, across a SIGKILL of
 * the node: every message is stored once. The kill lands while publishes are in flight, so some
 * writes are done and never answered (the window between write and answer) — how many is up to
 * timing and printed; to cover the rest, the publisher retries the acknowledged messages too
 * (written, answered, not yet delivered: no consumer is connected before the kill).
 */
class IdempotentCrashTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String TOPIC = "payments";

  @TempDir
  Path data;

  @Test
  void retryingEveryUnknownOutcomeWithTheSameIdStoresEachMessageOnce() throws Exception {
    try (NodeProcess node = NodeProcess.start(data.resolve("node"))) {
      HttpClientHelper http = node.http();
      http.createChannel(TOPIC, "ledger");

      Set<String> attempted = ConcurrentHashMap.newKeySet();
      Set<String> acknowledged = ConcurrentHashMap.newKeySet();
      Set<String> unknown = ConcurrentHashMap.newKeySet();
      AtomicBoolean killed = new AtomicBoolean();
      AtomicInteger next = new AtomicInteger();
      List<Thread> publishers = new ArrayList<>();
      for (int p = 0; p < 8; p++) {
        Thread t = new Thread(() -> {
          while (!killed.get()) {
            String id = "payment-" + next.incrementAndGet();
            attempted.add(id);
            try {
              HttpClientHelper.Response r = http.post("/pub?topic=" + TOPIC, id, "X-Herald-Msg-Id", id);
              if (r.status() == 200) acknowledged.add(id);
              else unknown.add(id);
            } catch (IOException e) {
              unknown.add(id);
            }
          }
        });
        t.start();
        publishers.add(t);
      }
      Await.until(WAIT, "500 publishes acknowledged", () -> acknowledged.size() >= 500);
      node.kill();
      killed.set(true);
      for (Thread t : publishers) t.join(WAIT.toMillis());

      node.launch();
      // /stats gives figures only for a running topic: create (a no-op for an existing topic) starts it.
      assertEquals(200, http.post("/topic/create?topic=" + TOPIC, "").status());
      long storedBeforeRetry = topicCount(http);
      long storedUnanswered = storedBeforeRetry - acknowledged.size();
      // Every message the publisher does not know to be stored, and every acknowledged one too.
      for (String id : attempted) {
        Await.until(WAIT, "the retry of " + id + " answered 200",
            () -> http.post("/pub?topic=" + TOPIC, id, "X-Herald-Msg-Id", id).status() == 200);
      }
      System.out.printf("idempotent crash: %d attempted, %d acknowledged, %d unknown outcomes (%d of them stored"
              + " before the kill, unanswered), all %d retried with the same id after the restart%n",
          attempted.size(), acknowledged.size(), unknown.size(), storedUnanswered, attempted.size());
      assertTrue(storedBeforeRetry >= acknowledged.size(), "nothing acknowledged was lost");
      assertEquals(attempted.size(), topicCount(http), "each message stored once");
      long duplicates = http.stats(TOPIC, null).path("topics").get(0).path("dedup").path("duplicates").asLong();
      assertTrue(duplicates >= storedBeforeRetry, "the retry of every stored message was a duplicate: " + duplicates);

      // And each is delivered once: the last message is a marker without an id, so a stored
      // duplicate would show up before it.
      assertEquals(200, http.post("/pub?topic=" + TOPIC, "end").status());
      Set<String> seen = new HashSet<>();
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + TOPIC + "&channel=ledger")) {
        c.send("RDY 500");
        String body;
        do {
          WsConsumer.Frame f = c.messages(1, WAIT).get(0);
          body = f.json().path("body").asText();
          c.send("FIN " + f.json().path("id").asText());
          if (!body.equals("end")) assertTrue(seen.add(body), "delivered twice: " + body);
        } while (!body.equals("end"));
      }
      assertEquals(attempted, seen);
    }
  }

  private static long topicCount(HttpClientHelper http) throws IOException {
    return http.stats(TOPIC, null).path("topics").get(0).path("message_count").asLong();
  }
}
