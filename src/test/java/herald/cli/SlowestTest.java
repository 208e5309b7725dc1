package herald.cli;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SlowestTest {
  private static List<Long> latencies(Slowest s) {
    List<Long> out = new ArrayList<>();
    for (long[] e : s.entries()) out.add(e[1]);
    Collections.sort(out);
    return out;
  }

  @Test
  void keepsTheSlowestAndCountsTheRest() {
    Slowest s = new Slowest(3, 1);
    List<Long> order = new ArrayList<>();
    for (long l = 1; l <= 10; l++) order.add(l);
    Collections.shuffle(order, new java.util.Random(7));
    for (long l : order) s.add(new long[] {0, l});
    assertEquals(List.of(8L, 9L, 10L), latencies(s));
    assertEquals(7, s.leftOut());
  }

  @Test
  void belowCapacityKeepsAllAndTiesWithTheFastestKeptAreLeftOut() {
    Slowest s = new Slowest(2, 1);
    s.add(new long[] {0, 5});
    assertEquals(List.of(5L), latencies(s));
    assertEquals(0, s.leftOut());
    s.add(new long[] {0, 5});
    s.add(new long[] {0, 5});
    assertEquals(List.of(5L, 5L), latencies(s));
    assertEquals(1, s.leftOut());
  }

  @Test
  void manyThreadsKeepTheBound() throws Exception {
    Slowest s = new Slowest(100, 1);
    Thread[] threads = new Thread[4];
    for (int t = 0; t < threads.length; t++) {
      int from = t;
      threads[t] = new Thread(() -> {
        for (long l = from; l < 40_000; l += threads.length) s.add(new long[] {0, l});
      });
      threads[t].start();
    }
    for (Thread t : threads) t.join();
    List<Long> kept = latencies(s);
    assertEquals(100, kept.size());
    assertEquals(39_900L, kept.get(0));
    assertEquals(39_900, s.leftOut());
  }

  @Test
  void aCapacityBelowOneIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> new Slowest(0, 1));
  }
}
