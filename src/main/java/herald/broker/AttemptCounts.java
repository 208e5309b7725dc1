package herald.broker;

import java.util.Arrays;
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
    Collector c = new Collector();
    attempts.forEach(c::add);
    return c.encode(finished);
  }

  /**
   * The attempts of a channel's messages in memory, gathered as primitives: a channel writes them
   * every 100 ms, up to mem-queue-size plus every consumer's RDY of them, and boxing each into a map
   * cost the channel's thread more than the write. Nearly all share a count (1), so offsets are kept
   * in one array per count and sorted as primitives. An offset is added at most once.
   */
  static final class Collector {
    private int[] counts = new int[2];
    private long[][] offsets = new long[2][];
    private int[] sizes = new int[2];
    private int groups;
    private int last;

    /** Offsets with no entry (or 0) were never delivered. */
    void add(long offset, int attempts) {
      if (attempts <= 0) return;
      int g = last < groups && counts[last] == attempts ? last : group(attempts);
      last = g;
      if (sizes[g] == offsets[g].length) offsets[g] = Arrays.copyOf(offsets[g], sizes[g] * 2);
      offsets[g][sizes[g]++] = offset;
    }

    private int group(int attempts) {
      for (int g = 0; g < groups; g++) if (counts[g] == attempts) return g;
      if (groups == counts.length) {
        counts = Arrays.copyOf(counts, groups * 2);
        offsets = Arrays.copyOf(offsets, groups * 2);
        sizes = Arrays.copyOf(sizes, groups * 2);
      }
      counts[groups] = attempts;
      offsets[groups] = new long[16];
      sizes[groups] = 0;
      return groups++;
    }

    /** The runs, ordered by their first offset (see {@link AttemptCounts#encode(Map, Finished)}). */
    long[] encode(Finished finished) {
      long[] out = new long[0];
      int i = 0;
      for (int g = 0; g < groups; g++) {
        long[] group = offsets[g];
        int size = sizes[g];
        Arrays.sort(group, 0, size);
        int n = counts[g];
        int first = i;
        for (int k = 0; k < size; k++) {
          long offset = group[k];
          if (i > first && (out[i - 2] == offset || finished.all(out[i - 2], offset))) {
            out[i - 2] = offset + 1;
          } else {
            if (i + 3 > out.length) out = Arrays.copyOf(out, Math.max(24, out.length * 2));
            out[i++] = offset;
            out[i++] = offset + 1;
            out[i++] = n;
          }
        }
      }
      out = Arrays.copyOf(out, i);
      return groups > 1 ? byStart(out) : out;
    }

    /** Runs of several counts, put in order of their first offset (they never overlap). */
    private static long[] byStart(long[] runs) {
      java.util.TreeMap<Long, Integer> at = new java.util.TreeMap<>();
      for (int i = 0; i < runs.length; i += 3) at.put(runs[i], i);
      long[] out = new long[runs.length];
      int o = 0;
      for (int i : at.values()) {
        out[o++] = runs[i];
        out[o++] = runs[i + 1];
        out[o++] = runs[i + 2];
      }
      return out;
    }
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
