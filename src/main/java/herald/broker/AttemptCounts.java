package herald.broker;

import java.util.HashMap;
import java.util.Map;

/**
 * How many times each unfinished message was delivered, in the form a channel writes it with its
 * progress: runs of consecutive offsets with the same count, as flat triples start, end
 * (exclusive), attempts. Messages go out nearly in order and mostly once, so a channel with
 * thousands in flight writes a handful of runs.
 */
final class AttemptCounts {
  private AttemptCounts() {}

  /** Whether every offset in [from, to) is finished. */
  interface Finished {
    boolean all(long from, long to);
  }

  /** Offsets with no entry (or 0) were never delivered. */
  static long[] encode(Map<Long, Integer> attempts) {
    return encode(attempts, (from, to) -> false);
  }

  /**
   * A run also spans offsets that are {@code finished} (their count means nothing, restoring skips
   * them): FINs scattered among messages in flight then do not cut the runs into pieces.
   */
  static long[] encode(Map<Long, Integer> attempts, Finished finished) {
    // Sorted as primitives: a channel writes this every 100 ms with up to mem-queue-size plus every
    // consumer's RDY entries, and a TreeMap of them cost milliseconds of the channel's thread.
    long[] offsets = new long[attempts.size()];
    int count = 0;
    for (Map.Entry<Long, Integer> e : attempts.entrySet()) {
      if (e.getValue() > 0) offsets[count++] = e.getKey();
    }
    java.util.Arrays.sort(offsets, 0, count);
    long[] out = new long[count * 3];
    int i = 0;
    for (int k = 0; k < count; k++) {
      long offset = offsets[k];
      int n = attempts.get(offset);
      if (i > 0 && out[i - 1] == n && (out[i - 2] == offset || finished.all(out[i - 2], offset))) {
        out[i - 2] = offset + 1;
      } else {
        out[i++] = offset;
        out[i++] = offset + 1;
        out[i++] = n;
      }
    }
    return java.util.Arrays.copyOf(out, i);
  }

  /** {@code runs} may be null: progress written before attempts were. */
  static Map<Long, Integer> decode(long[] runs) {
    return decode(runs, offset -> false);
  }

  /** Leaves out the offsets that are {@code done}. */
  static Map<Long, Integer> decode(long[] runs, java.util.function.LongPredicate done) {
    Map<Long, Integer> out = new HashMap<>();
    if (runs == null) return out;
    for (int i = 0; i + 2 < runs.length; i += 3) {
      for (long offset = runs[i]; offset < runs[i + 1]; offset++) {
        if (!done.test(offset)) out.put(offset, (int) runs[i + 2]);
      }
    }
    return out;
  }
}
