package herald.e2e;

import herald.cli.BenchLedger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The load of a soak: publishers on /pub and /mpub and consumers that FIN everything, against
 * whichever of the nodes answers, kept in bench's ledger (acknowledged vs consumed). A publish that
 * fails is not retried with the same numbers: it is simply not acknowledged. Ends in LOST
 * (acknowledged, never consumed), duplicates and the longest time without any acknowledged publish.
 */
final class SoakLoad {
  private static final int MPUB_BATCH = 20;

  private final String topic;
  private final List<NodeProcess> nodes;
  private final BenchLedger ledger = new BenchLedger();
  private final AtomicInteger nextSeq = new AtomicInteger();
  private final AtomicInteger turn = new AtomicInteger();
  private final AtomicBoolean publishing = new AtomicBoolean(true);
  private final AtomicBoolean consuming = new AtomicBoolean(true);
  private final AtomicLong lastAck = new AtomicLong(System.nanoTime());
  private final AtomicLong longestOutage = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private final List<Thread> publishers = new ArrayList<>();
  private final List<Thread> consumers = new ArrayList<>();

  SoakLoad(String topic, List<NodeProcess> nodes) {
    this.topic = topic;
    this.nodes = nodes;
  }

  void start(int publisherCount, int consumerCount) {
    for (int i = 0; i < publisherCount; i++) {
      boolean mpub = i % 2 == 1;
      publishers.add(new Thread(() -> publish(mpub), "soak-publisher-" + i));
    }
    for (int i = 0; i < consumerCount; i++) consumers.add(new Thread(this::consume, "soak-consumer-" + i));
    publishers.forEach(Thread::start);
    consumers.forEach(Thread::start);
  }

  /** Stops publishing, waits until every acknowledged message was consumed, stops the consumers. */
  BenchLedger.Counts drain(Duration timeout) throws Exception {
    publishing.set(false);
    for (Thread t : publishers) t.join();
    noteAck();
    try {
      Await.until(timeout, "every acknowledged message consumed", () -> ledger.missing() == 0);
    } catch (AssertionError e) {
      // LOST is reported, not thrown here: the caller prints the figures and asserts.
    }
    consuming.set(false);
    for (Thread t : consumers) t.join();
    return ledger.counts();
  }

  String summary(BenchLedger.Counts c) {
    return String.format("acknowledged %,d; LOST %,d; duplicates %,d; failed publishes %,d; longest publish outage %.1f s",
        c.acked(), c.missing(), c.duplicates(), failures.get(), longestOutage.get() / 1e9);
  }

  private NodeProcess next() {
    return nodes.get(Math.floorMod(turn.getAndIncrement(), nodes.size()));
  }

  private void noteAck() {
    long now = System.nanoTime();
    long previous = lastAck.getAndSet(now);
    longestOutage.accumulateAndGet(now - previous, Math::max);
  }

  private void publish(boolean mpub) {
    while (publishing.get()) {
      int n = mpub ? MPUB_BATCH : 1;
      int first = nextSeq.getAndAdd(n);
      StringBuilder body = new StringBuilder();
      for (int i = first; i < first + n; i++) body.append(i).append(" soak\n");
      ledger.sent(n);
      try {
        HttpClientHelper http = next().http();
        HttpClientHelper.Response r = mpub
            ? http.post("/mpub?topic=" + topic, body.toString())
            : http.post("/pub?topic=" + topic, first + " soak");
        if (r.status() == 200) {
          ledger.acked(first, n);
          noteAck();
          continue;
        }
      } catch (Exception e) {
        // a killed or stopped node: refused, reset or timed out; not acknowledged
      }
      failures.incrementAndGet();
      try {
        Thread.sleep(50);  // a client's pause before it tries again
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** Subscribes (again, to the next node) whenever its node goes away; FINs every message. */
  private void consume() {
    while (consuming.get()) {
      try (WsConsumer c = WsConsumer.subscribe(next(), "topic=" + topic + "&channel=c")) {
        c.send("RDY 200");
        while (consuming.get() && !c.isClosed()) {
          WsConsumer.Frame f = c.poll(Duration.ofMillis(200));
          if (f == null || !f.type().equals("message")) continue;
          String body = f.json().path("body").asText();
          ledger.consumed(Long.parseLong(body.substring(0, body.indexOf(' '))));
          c.send("FIN " + f.json().path("id").asText());
        }
      } catch (Exception | AssertionError e) {
        try {
          Thread.sleep(200);  // the node is down or restarting: subscribe again shortly
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }
}
