package herald.cli;

import java.net.ConnectException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.LongAdder;

/** Counters shared by the publishers, the consumers and the progress line; one clock for all. */
final class BenchStats {
  private final long startNanos;
  private final long startEpochMicros;
  final LongAdder acked = new LongAdder();
  final LongAdder delivered = new LongAdder();
  final LongAdder foreign = new LongAdder();
  final LongAdder errorCount = new LongAdder();
  /** Messages published again with the same ids after an ambiguous answer (--msg-id-from). */
  final LongAdder retries = new LongAdder();
  private final ConcurrentHashMap<String, LongAdder> errors = new ConcurrentHashMap<>();
  /** Publish times (µs, as written into bodies) from this one on are measured; before it is the warm-up. */
  private volatile long measuredFromMicros = Long.MIN_VALUE;
  /** This run's own messages published in the measured part, delivered (duplicates too). */
  final LongAdder measuredDelivered = new LongAdder();
  /** Other runs' messages (a backlog) delivered after the warm-up. */
  final LongAdder measuredForeign = new LongAdder();
  /** With --slow-log: latencies above this (µs) are kept with their due time. */
  private volatile long slowMicros = Long.MAX_VALUE;
  /** {ack 0 | e2e 1, due µs, latency µs, publisher, seq}: kept raw, formatted after the run (see slow()). */
  private Slowest slow;

  BenchStats() {
    startNanos = System.nanoTime();
    startEpochMicros = System.currentTimeMillis() * 1000;
  }

  long startNanos() {
    return startNanos;
  }

  /**
   * Wall-clock microseconds of a {@link System#nanoTime()} reading: anchored to the epoch once,
   * then monotonic and precise. This is the publish time written into bodies and the receive time
   * it is compared with.
   */
  long micros(long nanos) {
    return startEpochMicros + (nanos - startNanos) / 1000;
  }

  void measureFrom(long nanos) {
    measuredFromMicros = micros(nanos);
  }

  /** Whether a publish (or, for another run's message, a delivery) at this time is past the warm-up. */
  boolean measured(long micros) {
    return micros >= measuredFromMicros;
  }

  /** Keeps at most {@code keep} entries later than {@code micros}, the slowest. */
  void slowAbove(long micros, int keep) {
    slow = new Slowest(keep, 2);
    slowMicros = micros; // written last: slow() reads it first
  }

  /**
   * A request answered or a message delivered later than the --slow-log threshold, with its due time on
   * CLOCK_MONOTONIC (what {@code System.nanoTime()} reads on Linux, and {@code perf record -k
   * CLOCK_MONOTONIC} stamps), so that it lines up with a scheduler or GC trace taken beside the run.
   */
  void slow(boolean e2e, long dueMicros, long latencyMicros, int publisher, long seq) {
    // Called in the warm-up too, so that its code is compiled when the measured part starts; on the consumers'
    // reading threads, so nothing is formatted here: in a burst thousands of messages are late at once.
    if (latencyMicros <= slowMicros) return;
    // Left out here, not after the run: the warm-up's (the slowest of all) would take the measured part's places.
    if (!measured(dueMicros)) return;
    slow.add(new long[] {e2e ? 1 : 0, dueMicros, latencyMicros, publisher, seq});
  }

  /**
   * The measured part's entries kept, in order of due time, one line each: ack|e2e, due
   * (CLOCK_MONOTONIC s), latency (ms), publisher, seq.
   */
  List<String> slowLines() {
    List<String> lines = new ArrayList<>();
    List<long[]> entries = slow.entries();
    entries.sort(Comparator.comparingLong(e -> e[1]));
    for (long[] e : entries) {
      long dueMonotonicMicros = e[1] - startEpochMicros + startNanos / 1000;
      lines.add(String.format(Locale.ROOT, "%s %d.%06d %.3f %d %d", e[0] == 1 ? "e2e" : "ack",
          dueMonotonicMicros / 1_000_000, dueMonotonicMicros % 1_000_000, e[2] / 1000.0, e[3], e[4]));
    }
    return lines;
  }

  /** Entries later than the --slow-log threshold that {@link #slowLines} leaves out: faster than those it keeps. */
  long slowLeftOut() {
    return slow.leftOut();
  }

  private final ConcurrentLinkedQueue<String> duplicateExamples = new ConcurrentLinkedQueue<>();
  final LongAdder duplicatesFirstAttempt = new LongAdder();

  /**
   * A message consumed again. Its attempts count tells a redelivery (timeout, requeue,
   * disconnect: attempts above 1) from the same delivery sent twice (attempts 1 again).
   */
  void duplicate(String id, int attempts) {
    if (attempts <= 1) duplicatesFirstAttempt.increment();
    if (duplicateExamples.size() < 5) duplicateExamples.add(id + " (attempts " + attempts + ")");
  }

  List<String> duplicateExamples() {
    return List.copyOf(duplicateExamples);
  }

  void error(String kind) {
    errorCount.increment();
    errors.computeIfAbsent(kind, k -> new LongAdder()).increment();
  }

  Map<String, Long> errors() {
    Map<String, Long> m = new TreeMap<>();
    errors.forEach((k, v) -> m.put(k, v.sum()));
    return m;
  }

  /** An exception as an error kind: its class, unwrapped from the future's wrappers. */
  static String kind(Throwable e) {
    Throwable t = e;
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName();
  }

  /** An exception for a one-line message: class and message, unwrapped. */
  static String describe(Throwable e) {
    Throwable t = e;
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    String msg = null;
    for (Throwable c = t; c != null && (msg == null || msg.isBlank()); c = c.getCause()) msg = c.getMessage();
    if ((msg == null || msg.isBlank()) && t instanceof ConnectException) msg = "connection refused";
    return t.getClass().getSimpleName() + (msg == null || msg.isBlank() ? "" : ": " + msg);
  }
}
