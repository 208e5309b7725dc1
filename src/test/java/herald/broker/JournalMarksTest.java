package herald.broker;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JournalMarksTest {

  /** Writes 1..n, one 10-byte message each at offset i-1, published at time 1000 * i. */
  private static JournalMarks writes(int n) {
    JournalMarks marks = new JournalMarks();
    for (int i = 1; i <= n; i++) marks.written(i, i - 1, 1000L * i, 10L * (i - 1));
    return marks;
  }

  @Test
  void aMarkEverySpacingOfPublishTime() {
    JournalMarks marks = writes(10); // a second apart: a mark at every write
    assertEquals(10, marks.size());
    assertEquals(5, marks.seqNrBeforeTime(5_500));
    assertEquals(0, marks.seqNrBeforeTime(500), "before the first: read from the start");
    assertEquals(7, marks.seqNrBeforeOffset(6));
  }

  @Test
  void aMarkEverySpacingOfWritesWhenTheyComeFast() {
    JournalMarks marks = new JournalMarks();
    for (int i = 1; i <= 1000; i++) marks.written(i, i - 1, 5_000, 0);
    assertEquals(1000 / JournalMarks.FIRST_SPACING, marks.size());
    assertEquals(501, marks.seqNrBeforeOffset(550));
  }

  @Test
  void keptFromByTimeBySizeAndByBoth() {
    JournalMarks marks = writes(10); // 100 bytes, times 1s..10s
    assertEquals(Long.MAX_VALUE, marks.keptFrom(20_000, 0, 0, 100), "no retention keeps nothing");
    // Younger than 4.5 s at 10 s: 5.5 s on. A stretch goes once the next one starts before that:
    // the writes before the one at 5 s.
    assertEquals(5, marks.keptFrom(10_000, 4_500, 0, 100));
    // The latest 30 bytes: writes 8, 9, 10.
    assertEquals(8, marks.keptFrom(10_000, 0, 30, 100));
    // Both: a write stays while within both, so the tighter one decides.
    assertEquals(8, marks.keptFrom(10_000, 4_500, 30, 100));
    assertEquals(5, marks.keptFrom(10_000, 4_500, 80, 100));
    // Nothing old enough: kept from the first mark.
    assertEquals(1, marks.keptFrom(10_000, 60_000, 0, 100));
  }

  @Test
  void boundedByThinningAndForgetsDeletedStretches() {
    JournalMarks marks = writes(3 * JournalMarks.MAX);
    assertTrue(marks.size() <= JournalMarks.MAX, marks.toString());
    assertEquals(1, marks.seqNrBeforeTime(1_000));
    marks.deleted(3000);
    // The stretch holding write 3001 stays; everything before it goes.
    long first = marks.seqNrBeforeOffset(3000);
    assertTrue(first > 0 && first <= 3001, "first mark " + first);
    assertEquals(0, marks.seqNrBeforeOffset(first - 2), "nothing remembered before it");
  }

  @Test
  void aCopyIsEqualAndIndependent() {
    JournalMarks marks = writes(5);
    JournalMarks copy = marks.copy();
    assertEquals(marks, copy);
    marks.written(10, 9, 100_000, 50);
    assertEquals(5, copy.size());
  }
}
