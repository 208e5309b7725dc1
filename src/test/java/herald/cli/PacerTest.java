package herald.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PacerTest {
  private static final long MS = 1_000_000;

  @Test
  void aSlowAnswerLetsTheNextBatchCatchUp() {
    Pacer p = new Pacer(200); // one every 5 ms
    p.start(1_000 * MS);
    assertEquals(1_000 * MS, p.dueAt(0));
    assertEquals(1, p.dueFrom(0, 1_000 * MS, 100), "the first alone at the start");
    // The node took 15 ms to answer: messages 1, 2 and 3 fell due (at 5, 10, 15 ms).
    assertEquals(1_005 * MS, p.dueAt(1));
    assertEquals(3, p.dueFrom(1, 1_015 * MS, 100));
    // Never more than the batch size, never one before its time.
    assertEquals(10, p.dueFrom(1, 2_000 * MS, 10));
    assertEquals(1, p.dueFrom(4, 1_016 * MS, 100), "message 4 (due at 20 ms) once waited for");
  }

  @Test
  void withoutARateEveryBatchIsFull() {
    Pacer p = new Pacer(0);
    p.start(5);
    assertEquals(100, p.dueFrom(7, 6, 100));
    assertEquals(Long.MIN_VALUE, p.dueAt(7));
  }
}
