package herald.broker;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrimmingTest {
  private static final long SECOND = Duration.ofSeconds(1).toNanos();

  @Test
  void deletesInStepsBelowWhatIsNeededAndNeverPastTheLimit() {
    Trimming trimming = new Trimming();
    assertEquals(-1, trimming.start(Trimming.STEP, Long.MAX_VALUE, 0), "less than a step to delete");
    assertEquals(Trimming.STEP, trimming.start(Trimming.STEP + 1, Long.MAX_VALUE, 0));
    assertTrue(trimming.inFlight());
    trimming.deleted(Trimming.STEP);
    assertEquals(Trimming.STEP, trimming.deletedTo());
    assertEquals(Trimming.STEP + 1, trimming.firstKept());
    assertEquals(-1, trimming.start(2 * Trimming.STEP, Long.MAX_VALUE, 0), "still less than a step past the last");
    assertEquals(1200, trimming.start(5000, 1200, 0), "the limit (the second-last snapshot) bounds it");
  }

  @Test
  void oneDeletionAtATimeUntilItsAnswerIsOverdue() {
    Trimming trimming = new Trimming();
    assertTrue(trimming.mayStart(0));
    trimming.start(1000, Long.MAX_VALUE, 0);
    assertFalse(trimming.mayStart(29 * SECOND));
    assertTrue(trimming.mayStart(30 * SECOND), "an answer this late is taken for lost");
    trimming.deleted(999);
    assertTrue(trimming.mayStart(SECOND));
    assertFalse(trimming.inFlight());
  }

  @Test
  void aFailedDeletionIsAskedForAgainFromTheStart() {
    Trimming trimming = new Trimming();
    trimming.start(1000, Long.MAX_VALUE, 0);
    assertEquals(1000, trimming.firstKept(), "what is being deleted is not read");
    trimming.failed();
    assertFalse(trimming.inFlight());
    assertEquals(0, trimming.deletedTo());
    assertEquals(999, trimming.start(1000, Long.MAX_VALUE, SECOND));
  }

  @Test
  void noDeletionWhileAJournalReadLooksForAChannelsStart() {
    Trimming trimming = new Trimming();
    trimming.readStarted();
    trimming.readStarted();
    trimming.readDone();
    assertFalse(trimming.mayStart(0));
    trimming.readDone();
    assertTrue(trimming.mayStart(0));
  }
}
