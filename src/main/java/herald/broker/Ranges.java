package herald.broker;

import java.util.Map;
import java.util.TreeMap;

/**
 * A set of offsets kept as disjoint half-open ranges [start, end). FINs arrive nearly in order, so
 * the finished offsets above a channel's cursor stay a handful of ranges.
 */
public final class Ranges {
  private final TreeMap<Long, Long> ranges = new TreeMap<>();

  public static Ranges of(long[] flat) {
    Ranges r = new Ranges();
    for (int i = 0; i + 1 < flat.length; i += 2) {
      if (flat[i] < flat[i + 1]) r.ranges.put(flat[i], flat[i + 1]);
    }
    return r;
  }

  public boolean contains(long offset) {
    Map.Entry<Long, Long> e = ranges.floorEntry(offset);
    return e != null && offset < e.getValue();
  }

  /** Whether every offset in [from, to) is in the set (true when the interval is empty). */
  public boolean covers(long from, long to) {
    if (to <= from) return true;
    Map.Entry<Long, Long> e = ranges.floorEntry(from);
    return e != null && e.getValue() >= to;
  }

  public void add(long offset) {
    // One lookup below, one above, one put (which replaces the range it extends): a channel adds
    // every FIN here.
    Map.Entry<Long, Long> below = ranges.floorEntry(offset);
    if (below != null && offset < below.getValue()) return;
    long start = below != null && below.getValue() == offset ? below.getKey() : offset;
    Long aboveEnd = ranges.remove(offset + 1);
    ranges.put(start, aboveEnd != null ? aboveEnd : offset + 1);
  }

  /**
   * Moves a cursor over every finished offset directly at it and forgets what lies below the
   * returned cursor.
   */
  public long advance(long cursor) {
    long below = cursor;
    ranges.headMap(below).entrySet().removeIf(e -> e.getValue() <= below);
    Map.Entry<Long, Long> first = ranges.firstEntry();
    if (first != null && first.getKey() <= cursor) {
      cursor = first.getValue();
      ranges.remove(first.getKey());
    }
    return cursor;
  }

  /** How many offsets at or above {@code from} are in the set. */
  public long countFrom(long from) {
    Long floor = ranges.floorKey(from);
    long n = 0;
    for (Map.Entry<Long, Long> e : ranges.tailMap(floor == null ? from : floor).entrySet()) {
      n += Math.max(0, e.getValue() - Math.max(e.getKey(), from));
    }
    return n;
  }

  public void clear() {
    ranges.clear();
  }

  public boolean isEmpty() {
    return ranges.isEmpty();
  }

  /** start0, end0, start1, end1, ... */
  public long[] toArray() {
    long[] flat = new long[ranges.size() * 2];
    int i = 0;
    for (Map.Entry<Long, Long> e : ranges.entrySet()) {
      flat[i++] = e.getKey();
      flat[i++] = e.getValue();
    }
    return flat;
  }
}
