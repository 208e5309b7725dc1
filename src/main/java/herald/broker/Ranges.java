package herald.broker;

import java.util.Map;
import java.util.TreeMap;

/**
 * A set of offsets kept as disjoint, non-adjacent half-open ranges [start, end). FINs arrive nearly
 * in order, so the finished offsets above a channel's cursor stay a handful of ranges.
 *
 * <p>A consumer finishes what it was given in order, so most adds extend one range by one: that
 * range (the hot one) is kept out of the tree in plain fields while it grows, and put back before
 * anything else changes or walks the tree. An add that extends it touches no tree and boxes nothing.
 */
public final class Ranges {
  private final TreeMap<Long, Long> ranges = new TreeMap<>();
  private boolean hot;
  private long hotStart;
  private long hotEnd;
  private long hotNext;  // the start of the tree's next range above the hot one (MAX_VALUE: none)
  private long upper;    // no offset at or above this one is in the set

  public static Ranges of(long[] flat) {
    Ranges r = new Ranges();
    for (int i = 0; i + 1 < flat.length; i += 2) {
      if (flat[i] < flat[i + 1]) {
        r.ranges.put(flat[i], flat[i + 1]);
        r.upper = Math.max(r.upper, flat[i + 1]);
      }
    }
    return r;
  }

  public boolean contains(long offset) {
    if (offset >= upper) return false;
    if (hot && offset >= hotStart && offset < hotEnd) return true;
    Map.Entry<Long, Long> e = ranges.floorEntry(offset);
    return e != null && offset < e.getValue();
  }

  /** Whether every offset in [from, to) is in the set (true when the interval is empty). */
  public boolean covers(long from, long to) {
    if (to <= from) return true;
    if (hot && from >= hotStart && to <= hotEnd) return true;
    settle();
    Map.Entry<Long, Long> e = ranges.floorEntry(from);
    return e != null && e.getValue() >= to;
  }

  public void add(long offset) {
    if (hot) {
      if (offset == hotEnd && offset + 1 < hotNext) {
        hotEnd++;
        upper = Math.max(upper, hotEnd);
        return;
      }
      if (offset >= hotStart && offset < hotEnd) return;
      settle();
    }
    // One lookup below, one above, one for the next range: the range it joins becomes the hot one.
    Map.Entry<Long, Long> below = ranges.floorEntry(offset);
    if (below != null && offset < below.getValue()) return;
    long start = offset;
    if (below != null && below.getValue() == offset) {
      start = below.getKey();
      ranges.remove(start);
    }
    Long aboveEnd = ranges.remove(offset + 1);
    Long next = ranges.higherKey(offset);
    hot = true;
    hotStart = start;
    hotEnd = aboveEnd != null ? aboveEnd : offset + 1;
    hotNext = next != null ? next : Long.MAX_VALUE;
    upper = Math.max(upper, hotEnd);
  }

  /** Puts the hot range back into the tree (it is neither adjacent to nor overlaps another). */
  private void settle() {
    if (!hot) return;
    hot = false;
    ranges.put(hotStart, hotEnd);
  }

  /**
   * Moves a cursor over every finished offset directly at it and forgets what lies below the
   * returned cursor.
   */
  public long advance(long cursor) {
    long below = cursor;
    // Ranges are disjoint and not adjacent: at most one holds the cursor, the hot one or the tree's first.
    if (hot && hotStart <= cursor) {
      hot = false;
      if (hotEnd > cursor) cursor = hotEnd;
    }
    if (!ranges.isEmpty() && ranges.firstKey() < below) {
      ranges.headMap(below).entrySet().removeIf(e -> e.getValue() <= below);
    }
    Map.Entry<Long, Long> first = ranges.firstEntry();
    if (first != null && first.getKey() <= cursor) {
      cursor = first.getValue();
      ranges.remove(first.getKey());
    }
    return cursor;
  }

  /** How many offsets at or above {@code from} are in the set. */
  public long countFrom(long from) {
    settle();
    Long floor = ranges.floorKey(from);
    long n = 0;
    for (Map.Entry<Long, Long> e : ranges.tailMap(floor == null ? from : floor).entrySet()) {
      n += Math.max(0, e.getValue() - Math.max(e.getKey(), from));
    }
    return n;
  }

  public void clear() {
    ranges.clear();
    hot = false;
    upper = 0;
  }

  public boolean isEmpty() {
    return !hot && ranges.isEmpty();
  }

  /** start0, end0, start1, end1, ... */
  public long[] toArray() {
    settle();
    long[] flat = new long[ranges.size() * 2];
    int i = 0;
    for (Map.Entry<Long, Long> e : ranges.entrySet()) {
      flat[i++] = e.getKey();
      flat[i++] = e.getValue();
    }
    return flat;
  }
}
