package herald.broker;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Whether a topic's next write waits a moment for more publishes (group commit with a gather).
 *
 * <p>A topic has one write in flight, and what comes meanwhile is the next write. Publishers that
 * wait for each answer before they send again (HTTP clients, NSQ's MPUB) then split into two
 * groups that take turns: the publishes of one write are answered while the other group's write
 * is under way, so they come back to find the topic busy and wait for a whole write more. Every
 * write holds half of them, and each publisher's round trip is two writes. If the next write
 * waits for the group just answered (they are back within a fraction of a write), both groups
 * share every write: twice the messages per write and per fsync, and one write per round trip.
 *
 * <p>So after a write that answered some publishes while others queued, the next write waits
 * until as many publishes wait as there were then (publishers in play), for at most half the last
 * write's time and {@link #MAX_WAIT}. A publisher that does not come back so soon (one sending at
 * its own pace) makes the wait end at its time limit: then the topic does not wait again for a
 * number of writes that doubles with each wait in vain, so that such publishers lose at most that
 * time once in many writes. A write that answered one publish while none queued never waits.
 */
final class Gathering {
  /** The longest a write waits for publishes. */
  static final Duration MAX_WAIT = Duration.ofMillis(2);
  private static final int MAX_SKIP = 1024;

  // Pekko's scheduler ticks every 10 ms; a wait of a millisecond needs its own timer.
  private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "herald-gathering");
    t.setDaemon(true);
    return t;
  });

  private int expected;        // publishes in the last write plus those that queued meanwhile
  private long doneNanos;      // when the last write was done
  private long writeNanos;     // how long it took
  private int skip;            // writes left before the next wait, after waits in vain
  private int backoff = 1;
  private boolean waiting;     // a wait started: the next drain ends it

  /** Runs {@code task} after {@code nanos}, on the timer's thread: it must only hand off. */
  static void after(long nanos, Runnable task) {
    TIMER.schedule(task, nanos, TimeUnit.NANOSECONDS);
  }

  /** A write of {@code publishes} ran from {@code startNanos} to {@code endNanos}; {@code queued} came meanwhile. */
  void written(int publishes, int queued, long startNanos, long endNanos) {
    expected = publishes + queued;
    doneNanos = endNanos;
    writeNanos = endNanos - startNanos;
  }

  /** Publishes to wait for before the next write, with {@code queued} waiting at {@code now}; 0 for none. */
  int waitFor(int queued, long now) {
    if (expected < 2 || queued >= expected || now >= until()) return 0;
    if (skip > 0) {
      skip--;
      return 0;
    }
    return expected;
  }

  /** When a wait that starts now ends at the latest. */
  long until() {
    return doneNanos + Math.min(MAX_WAIT.toNanos(), writeNanos / 2);
  }

  /** A wait started (its inbox gathers): the topic's next drain ends it ({@link #ended}). */
  void started() {
    waiting = true;
  }

  /** Whether a wait started that no drain ended yet. */
  boolean waiting() {
    return waiting;
  }

  /** A wait ended with {@code queued} publishes waiting. */
  void ended(int queued) {
    waiting = false;
    if (queued >= expected) {
      backoff = 1;
    } else {
      skip = backoff;
      backoff = Math.min(2 * backoff, MAX_SKIP);
    }
  }
}
