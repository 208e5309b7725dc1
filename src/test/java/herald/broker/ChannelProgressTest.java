package herald.broker;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChannelProgressTest {

  @Test
  void finishedOffsetsMoveTheCursorOnlyWhenTheyReachIt() {
    ChannelProgress p = new ChannelProgress();
    p.reset(10, new long[0], List.of(), new long[0], 0);
    p.finish(11);
    p.advance();
    assertEquals(10, p.cursor());
    assertTrue(p.isDone(9));
    assertTrue(p.isDone(11));
    assertFalse(p.isDone(10));
    p.finish(10);
    p.advance();
    assertEquals(12, p.cursor());
    assertEquals(0, p.finishedFrom(12));
  }

  @Test
  void aWriteCarriesEverythingAndClearsDirty() {
    ChannelProgress p = new ChannelProgress();
    p.reset(0, new long[] {2, 4}, List.of(new Channel.Deferral(5, 3, 9_000)), new long[0], 0);
    p.changed();
    assertTrue(p.isDirty());
    Channel.Progressed written = p.write(2, new ArrayList<>(List.of(new Channel.Deferral(1, 1, 8_000))), new HashMap<>());
    assertFalse(p.isDirty());
    assertEquals(0, written.cursor());
    assertEquals(2, written.cursorSeqNr());
    assertArrayEquals(new long[] {2, 4}, written.finished());
    assertEquals(List.of(new Channel.Deferral(1, 1, 8_000), new Channel.Deferral(5, 3, 9_000)), written.deferred(),
        "a restored deferral not read back yet is written again");
  }

  @Test
  void aRestoredDeferralIsTakenOnce() {
    ChannelProgress p = new ChannelProgress();
    p.reset(0, new long[0], List.of(new Channel.Deferral(5, 3, 9_000)), new long[0], 0);
    assertEquals(9_000, p.takeRecoveredDeferral(5).due());
    assertNull(p.takeRecoveredDeferral(5));
    assertTrue(p.write(1, new ArrayList<>(), new HashMap<>()).deferred().isEmpty());
  }

  @Test
  void attemptsAreWrittenAndRestoredAndFinishedOnesDropped() {
    ChannelProgress p = new ChannelProgress();
    p.reset(0, new long[0], List.of(), new long[0], 0);
    Channel.Progressed written = p.write(0, new ArrayList<>(), new HashMap<>(Map.of(0L, 2, 1L, 2, 3L, 1)));
    assertArrayEquals(new long[] {0, 2, 2, 3, 4, 1}, written.attempts());

    p.reset(written.cursor(), written.finished(), written.deferred(), written.attempts(), 0);
    assertEquals(2, p.takeRecoveredAttempts(1));
    assertEquals(0, p.takeRecoveredAttempts(1), "taken once");
    assertEquals(0, p.takeRecoveredAttempts(2), "never delivered");
    p.finish(3);
    // Offset 0 is not read back yet: its attempts are written again; finished offset 3 is dropped.
    assertArrayEquals(new long[] {0, 1, 2, 1, 2, 5}, p.write(0, new ArrayList<>(), new HashMap<>(Map.of(1L, 5))).attempts());
  }

  @Test
  void progressWrittenBeforeAttemptsRestoresNone() {
    ChannelProgress p = new ChannelProgress();
    p.reset(0, new long[0], List.of(), null, 0);
    assertEquals(0, p.takeRecoveredAttempts(0));
  }

  @Test
  void emptyingForgetsFinishedAndDeferralsAndNeverMovesTheCursorBack() {
    ChannelProgress p = new ChannelProgress();
    p.reset(20, new long[] {22, 23}, List.of(new Channel.Deferral(21, 3, 9_000)), new long[0], 0);
    p.changed();
    Channel.Progressed emptied = p.emptyTo(15, 4);
    assertEquals(20, emptied.cursor(), "the cursor never goes back");
    assertEquals(4, emptied.cursorSeqNr());
    assertEquals(0, emptied.finished().length);
    assertTrue(emptied.deferred().isEmpty());
    assertFalse(p.isDirty());
    assertEquals(30, p.emptyTo(30, 5).cursor());
  }

  @Test
  void aPositionIsReportedOnlyWhenItMovedOrTheTopicForgot() {
    ChannelProgress p = new ChannelProgress();
    assertTrue(p.reportable(3));
    assertFalse(p.reportable(3));
    assertFalse(p.reportable(2));
    assertTrue(p.reportable(4));
    p.forgetReported();
    assertTrue(p.reportable(4));
  }
}
