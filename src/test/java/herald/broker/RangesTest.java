package herald.broker;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RangesTest {

  private static Ranges with(long... offsets) {
    Ranges r = new Ranges();
    for (long o : offsets) r.add(o);
    return r;
  }

  @Test
  void randomAddsKeepExactlyTheAddedOffsetsAsDisjointRanges() {
    java.util.Random random = new java.util.Random(11);
    for (int round = 0; round < 200; round++) {
      Ranges r = new Ranges();
      java.util.TreeSet<Long> added = new java.util.TreeSet<>();
      for (int i = 0; i < 60; i++) {
        long offset = random.nextInt(80);
        r.add(offset);
        added.add(offset);
      }
      for (long o = 0; o < 82; o++) assertEquals(added.contains(o), r.contains(o), "offset " + o);
      // The runs of consecutive offsets, each once, in order: merged as far as they touch.
      java.util.List<Long> runs = new java.util.ArrayList<>();
      for (long o : added) {
        if (!runs.isEmpty() && runs.get(runs.size() - 1) == o) runs.set(runs.size() - 1, o + 1);
        else {
          runs.add(o);
          runs.add(o + 1);
        }
      }
      assertArrayEquals(runs.stream().mapToLong(Long::longValue).toArray(), r.toArray());
    }
  }

  /**
   * As FINs come: a few consumers each finish their own run of offsets in order, interleaved, the
   * cursor advancing now and then. Every answer is checked against a plain set after each step, so
   * the range that in-order adds extend in place is checked as it grows, settles and is advanced over.
   */
  @Test
  void interleavedInOrderRunsWithAdvancesMatchAPlainSet() {
    java.util.Random random = new java.util.Random(7);
    for (int round = 0; round < 100; round++) {
      Ranges r = new Ranges();
      java.util.TreeSet<Long> added = new java.util.TreeSet<>();
      long cursor = 0;
      long[] next = {0, 40, 80, 120};
      for (int step = 0; step < 300; step++) {
        int who = random.nextInt(next.length);
        for (int k = random.nextInt(6); k >= 0; k--) {
          long offset = random.nextInt(10) == 0 ? random.nextInt(170) : next[who]++;
          r.add(offset);
          if (offset >= cursor) added.add(offset);
        }
        if (random.nextInt(4) == 0) {
          long expected = cursor;
          while (added.contains(expected)) expected++;
          cursor = r.advance(cursor);
          assertEquals(expected, cursor, "cursor");
          long c = cursor;
          added.removeIf(o -> o < c);
        }
        for (long o = cursor; o < 175; o++) assertEquals(added.contains(o), r.contains(o), "offset " + o);
        long from = cursor + random.nextInt(20);
        long to = from + random.nextInt(6);
        boolean all = true;
        for (long o = from; o < to; o++) all &= added.contains(o);
        assertEquals(all, r.covers(from, to), "covers " + from + ".." + to);
        assertEquals(added.tailSet(from).size(), r.countFrom(from), "count from " + from);
      }
    }
  }

  @Test
  void emptySetContainsNothing() {
    Ranges r = new Ranges();
    assertTrue(r.isEmpty());
    assertFalse(r.contains(0));
    assertEquals(0, r.countFrom(0));
    assertArrayEquals(new long[0], r.toArray());
  }

  @Test
  void addedOffsetIsContainedAndItsNeighboursAreNot() {
    Ranges r = with(5);
    assertFalse(r.isEmpty());
    assertTrue(r.contains(5));
    assertFalse(r.contains(4));
    assertFalse(r.contains(6));
    assertArrayEquals(new long[] {5, 6}, r.toArray());
  }

  @Test
  void consecutiveAddsMergeIntoOneHalfOpenRange() {
    Ranges r = with(3, 4, 5);
    assertArrayEquals(new long[] {3, 6}, r.toArray());
    assertTrue(r.contains(3));
    assertTrue(r.contains(5));
    assertFalse(r.contains(6));
  }

  @Test
  void addBelowARangeMergesWithIt() {
    Ranges r = with(6, 7, 5);
    assertArrayEquals(new long[] {5, 8}, r.toArray());
  }

  @Test
  void addThatFillsAGapJoinsBothNeighbours() {
    Ranges r = with(1, 2, 4, 5);
    assertArrayEquals(new long[] {1, 3, 4, 6}, r.toArray());
    r.add(3);
    assertArrayEquals(new long[] {1, 6}, r.toArray());
  }

  @Test
  void outOfOrderAddsGiveTheSameRangesAsInOrderAdds() {
    Ranges shuffled = with(9, 2, 7, 0, 8, 1, 4);
    Ranges ordered = with(0, 1, 2, 4, 7, 8, 9);
    assertArrayEquals(new long[] {0, 3, 4, 5, 7, 10}, shuffled.toArray());
    assertArrayEquals(ordered.toArray(), shuffled.toArray());
  }

  @Test
  void addingAnOffsetTwiceChangesNothing() {
    Ranges r = with(1, 2, 3);
    r.add(2);
    r.add(1);
    r.add(3);
    assertArrayEquals(new long[] {1, 4}, r.toArray());
    assertEquals(3, r.countFrom(0));
  }

  @Test
  void advanceMovesTheCursorOverTheRangeThatStartsAtIt() {
    Ranges r = with(10, 11, 12, 15);
    assertEquals(13, r.advance(10));
    // The range the cursor moved over is gone; the one above the new cursor stays.
    assertArrayEquals(new long[] {15, 16}, r.toArray());
    assertFalse(r.contains(11));
    assertTrue(r.contains(15));
  }

  @Test
  void advanceLeavesTheCursorWhenItsOffsetIsNotFinished() {
    Ranges r = with(12, 13);
    assertEquals(10, r.advance(10));
    assertArrayEquals(new long[] {12, 14}, r.toArray());
  }

  @Test
  void advanceDropsRangesWhollyBelowTheCursor() {
    Ranges r = with(1, 2, 5, 20);
    assertEquals(10, r.advance(10));
    assertArrayEquals(new long[] {20, 21}, r.toArray());
    assertFalse(r.contains(1));
    assertFalse(r.contains(5));
  }

  @Test
  void advanceOverARangeThatStraddlesTheCursor() {
    Ranges r = with(3, 4, 5, 6, 7, 9);
    assertEquals(8, r.advance(5));
    assertArrayEquals(new long[] {9, 10}, r.toArray());
  }

  @Test
  void advanceStopsAtTheFirstGap() {
    Ranges r = with(0, 1, 3, 4);
    long cursor = r.advance(0);
    assertEquals(2, cursor);
    assertEquals(2, r.advance(cursor), "a second advance without new FINs stays put");
    r.add(2);
    assertEquals(5, r.advance(cursor));
    assertTrue(r.isEmpty());
  }

  @Test
  void advanceOnAnEmptySetKeepsTheCursor() {
    assertEquals(42, new Ranges().advance(42));
  }

  @Test
  void countFromCountsOnlyOffsetsAtOrAboveFrom() {
    Ranges r = with(0, 1, 2, 5, 6, 7, 10);
    assertEquals(7, r.countFrom(0));
    assertEquals(5, r.countFrom(2)); // 2, 5, 6, 7, 10
    assertEquals(4, r.countFrom(3)); // 5, 6, 7, 10
    assertEquals(3, r.countFrom(6)); // 6, 7, 10
    assertEquals(1, r.countFrom(8)); // 10
    assertEquals(0, r.countFrom(11));
  }

  @Test
  void toArrayAndOfRoundTrip() {
    Ranges r = with(4, 5, 9, 20, 21, 22);
    long[] flat = r.toArray();
    assertArrayEquals(new long[] {4, 6, 9, 10, 20, 23}, flat);
    Ranges back = Ranges.of(flat);
    assertArrayEquals(flat, back.toArray());
    for (long o = 0; o < 25; o++) assertEquals(r.contains(o), back.contains(o), "offset " + o);
    assertEquals(r.countFrom(5), back.countFrom(5));
  }

  @Test
  void rangesRebuiltWithOfKeepMerging() {
    Ranges back = Ranges.of(new long[] {4, 6, 8, 10});
    back.add(6);
    back.add(7);
    assertArrayEquals(new long[] {4, 10}, back.toArray());
    assertEquals(10, back.advance(4));
  }

  @Test
  void ofSkipsEmptyRangesAndAnOddTrailingValue() {
    Ranges r = Ranges.of(new long[] {3, 3, 7, 9, 12});
    assertArrayEquals(new long[] {7, 9}, r.toArray());
    assertTrue(Ranges.of(new long[0]).isEmpty());
  }

  @Test
  void clearEmptiesTheSet() {
    Ranges r = with(1, 2, 8);
    r.clear();
    assertTrue(r.isEmpty());
    assertFalse(r.contains(1));
    assertArrayEquals(new long[0], r.toArray());
  }

  @Test
  void coversOnlyWhatOneRangeHoldsWhole() {
    Ranges r = with(3, 4, 5, 8);
    assertTrue(r.covers(3, 6));
    assertTrue(r.covers(4, 5));
    assertTrue(r.covers(7, 7), "an empty interval");
    assertFalse(r.covers(3, 7));
    assertFalse(r.covers(2, 4));
    assertFalse(r.covers(6, 9));
  }
}
