package herald.broker;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SnapshotsTest {

  @Test
  void oneIsDueEachTimeTheWritesPassTheNextMultiple() {
    Snapshots snapshots = new Snapshots();
    snapshots.recovered(1500);
    assertFalse(snapshots.due(1999), "recovery's round counts as done");
    assertTrue(snapshots.due(2000));
    assertTrue(snapshots.saved(2000));
    assertFalse(snapshots.due(2999));
    assertTrue(snapshots.due(3001));
    assertEquals(4000, snapshots.nextDue());
  }

  @Test
  void oneStillBeingStoredMakesTheNextWaitItsTurn() {
    Snapshots snapshots = new Snapshots();
    assertTrue(snapshots.due(1000));
    assertFalse(snapshots.due(2000), "the one of 1000 is still being stored");
    snapshots.failed();
    assertTrue(snapshots.due(2001));
  }

  @Test
  void deletionsStopAtTheSecondLastStoredInThisRun() {
    Snapshots snapshots = new Snapshots();
    assertEquals(0, snapshots.beforeLast());
    snapshots.due(1000);
    assertTrue(snapshots.saved(1000));
    assertEquals(0, snapshots.beforeLast(), "one stored: recovery's fallback is the journal from the start");
    snapshots.due(2000);
    assertTrue(snapshots.saved(2000));
    assertEquals(1000, snapshots.beforeLast());
    assertFalse(snapshots.saved(1500), "an older one's answer moves nothing");
    assertEquals(1000, snapshots.beforeLast());
  }
}
