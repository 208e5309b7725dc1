package herald.cli;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.atomic.LongAdder;

/**
 * The slowest of many entries, at most {@code capacity} of them, and how many it left out: what
 * --slow-log keeps, so that a run in which most messages are late (a stalled node, a low
 * threshold) holds a bounded number in memory, not every one.
 */
final class Slowest {
  private final int capacity;
  private final int latencyIndex;
  // The fastest kept entry on top: the one a slower entry displaces once it is full.
  private final PriorityQueue<long[]> kept;
  private final LongAdder leftOut = new LongAdder();
  // The top's latency while full: an entry no slower is left out without taking the lock.
  private volatile long floor = Long.MIN_VALUE;

  /** {@code latencyIndex}: where an entry holds the latency it is ranked by. */
  Slowest(int capacity, int latencyIndex) {
    if (capacity < 1) throw new IllegalArgumentException("capacity must be at least 1, got " + capacity);
    this.capacity = capacity;
    this.latencyIndex = latencyIndex;
    this.kept = new PriorityQueue<>(Comparator.comparingLong(e -> e[latencyIndex]));
  }

  void add(long[] entry) {
    if (entry[latencyIndex] <= floor) {
      leftOut.increment();
      return;
    }
    synchronized (kept) {
      if (kept.size() < capacity) {
        kept.add(entry);
      } else if (entry[latencyIndex] > kept.peek()[latencyIndex]) {
        kept.poll();
        kept.add(entry);
        leftOut.increment();
      } else {
        leftOut.increment();
      }
      if (kept.size() == capacity) floor = kept.peek()[latencyIndex];
    }
  }

  /** The entries kept, in no particular order. */
  List<long[]> entries() {
    synchronized (kept) {
      return new ArrayList<>(kept);
    }
  }

  long leftOut() {
    return leftOut.sum();
  }
}
