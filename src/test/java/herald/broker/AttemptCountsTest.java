package herald.broker;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AttemptCountsTest {

  @Test
  void consecutiveOffsetsWithTheSameCountAreOneRun() {
    Map<Long, Integer> attempts = new HashMap<>();
    for (long o = 100; o < 2_100; o++) attempts.put(o, 1);
    attempts.put(2_100L, 3);
    attempts.put(2_101L, 3);
    attempts.put(2_200L, 1);
    attempts.put(5L, 0); // never delivered: not written
    long[] runs = AttemptCounts.encode(attempts);
    assertArrayEquals(new long[] {100, 2_100, 1, 2_100, 2_102, 3, 2_200, 2_201, 1}, runs);
    attempts.remove(5L);
    assertEquals(attempts, AttemptCounts.decode(runs));
  }

  @Test
  void aRunSpansFinishedOffsetsAndRestoringLeavesThemOut() {
    Map<Long, Integer> attempts = Map.of(10L, 1, 11L, 1, 15L, 1, 16L, 2, 20L, 2);
    Ranges finished = Ranges.of(new long[] {12, 15, 17, 19});
    long[] runs = AttemptCounts.encode(attempts, finished::covers);
    // 12-14 are finished: one run 10-16; 17-18 finished but 19 is not: 16 and 20 stay apart.
    assertArrayEquals(new long[] {10, 16, 1, 16, 17, 2, 20, 21, 2}, runs);
    assertEquals(attempts, AttemptCounts.decode(runs, finished::contains));
  }

  @Test
  void nothingAndNullAreEmpty() {
    assertArrayEquals(new long[0], AttemptCounts.encode(Map.of()));
    assertTrue(AttemptCounts.decode(null).isEmpty());
    assertTrue(AttemptCounts.decode(new long[0]).isEmpty());
  }
}
