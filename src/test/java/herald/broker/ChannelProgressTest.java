package herald.broker;

import org.junit.jupiter.api.Test;

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
    p.reset(10, new long[0], new Deferrals(), new long[0], 0);
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
  void aWriteCarriesTheProgressAndClearsDirty() {
    ChannelProgress p = new ChannelProgress();
    p.reset(0, new long[] {2, 4}, new Deferrals(), new long[0], 0);
    p.changed();
    assertTrue(p.isDirty());
    Channel.Progressed written = p.write(2, new AttemptCounts.Collector());
    assertFalse(p.isDirty());
    assertEquals(0, written.cursor());
    assertEquals(2, written.cursorSeqNr());
    assertArrayEquals(new long[] {2, 4}, written.finished());
    assertNull(written.deferred(), "the deferrals written before stay");
    assertTrue(written.deferredNow().isEmpty());
    assertArrayEquals(new long[0], written.deferralsEnded());
  }

  private static ChannelMessage deferredMessage(long offset, long seqNr, long due, int attempts) {
    ChannelMessage m = new ChannelMessage(offset, seqNr, 0, null, due);
    m.attempts = attempts;
    return m;
  }

  @Test
  void deferralsAreWrittenAsChangesOnly() {
    Deferrals state = new Deferrals(List.of(new Channel.Deferral(5, 3, 9_000, 2), new Channel.Deferral(6, 3, 9_000, 1)));
    ChannelProgress p = new ChannelProgress();
    p.reset(0, new long[0], state, new long[0], 0);
    assertEquals(new Channel.Deferral(5, 3, 9_000, 2), p.writtenDeferral(5), "read from what was written");
    assertNull(p.writtenDeferral(7));

    p.deferred(deferredMessage(7, 4, 8_000, 1));
    assertTrue(p.isDirty());
    p.deferralEnded(5);
    p.deferred(deferredMessage(8, 4, 8_000, 3));
    p.deferralEnded(8); // deferred and back within one write: only its end is written
    Channel.Progressed written = p.write(1, new AttemptCounts.Collector());
    assertNull(written.deferred());
    assertEquals(List.of(new Channel.Deferral(7, 4, 8_000, 1)), written.deferredNow().toList());
    assertArrayEquals(new long[] {5, 6, 8, 9}, written.deferralsEnded());

    Channel.State after = new Channel.State(true, false, 0, 0, 1, new long[0], state, new long[0], 0, ChannelConfig.NONE)
        .progressed(written);
    assertEquals(List.of(new Channel.Deferral(6, 3, 9_000, 1), new Channel.Deferral(7, 4, 8_000, 1)),
        after.deferred().toList());
    assertTrue(p.write(1, new AttemptCounts.Collector()).deferredNow().isEmpty(), "each change is written once");
  }

  @Test
  void aRewoundChannelWritesThatNoDeferralIsLeft() {
    Deferrals state = new Deferrals(List.of(new Channel.Deferral(5, 3, 9_000, 2)));
    ChannelProgress p = new ChannelProgress();
    p.reset(0, new long[0], state, new long[0], 0);
    p.forgetDeferrals();
    assertNull(p.writtenDeferral(5));
    p.deferred(deferredMessage(1, 1, 8_000, 1));
    Channel.Progressed written = p.write(1, new AttemptCounts.Collector());
    assertEquals(List.of(), written.deferred());
    assertEquals(List.of(new Channel.Deferral(1, 1, 8_000, 1)),
        new Channel.State(true, false, 0, 0, 1, new long[0], state, new long[0], 0, ChannelConfig.NONE)
            .progressed(written).deferred().toList());
    assertNull(p.write(1, new AttemptCounts.Collector()).deferred(), "only once");
  }

  @Test
  void progressWrittenWithAWholeListOfDeferralsReplacesThem() {
    // Progress written before deferrals were written as changes carried them all, every time.
    Deferrals state = new Deferrals(List.of(new Channel.Deferral(5, 3, 9_000, 0)));
    Channel.State after = new Channel.State(true, false, 0, 0, 1, new long[0], state, new long[0], 0, ChannelConfig.NONE)
        .progressed(new Channel.Progressed(0, 1, new long[0], List.of(new Channel.Deferral(6, 3, 7_000, 0))));
    assertEquals(List.of(new Channel.Deferral(6, 3, 7_000, 0)), after.deferred().toList());
  }

  @Test
  void attemptsAreWrittenAndRestoredAndFinishedOnesDropped() {
    ChannelProgress p = new ChannelProgress();
    p.reset(0, new long[0], new Deferrals(), new long[0], 0);
    Channel.Progressed written = p.write(0, attempts(Map.of(0L, 2, 1L, 2, 3L, 1)));
    assertArrayEquals(new long[] {0, 2, 2, 3, 4, 1}, written.attempts());

    p.reset(written.cursor(), written.finished(), new Deferrals(), written.attempts(), 0);
    assertEquals(2, p.takeRecoveredAttempts(1));
    assertEquals(0, p.takeRecoveredAttempts(1), "taken once");
    assertEquals(0, p.takeRecoveredAttempts(2), "never delivered");
    p.finish(3);
    // Offset 0 is not read back yet: its attempts are written again; finished offset 3 is dropped.
    assertArrayEquals(new long[] {0, 1, 2, 1, 2, 5}, p.write(0, attempts(Map.of(1L, 5))).attempts());
  }

  @Test
  void progressWrittenBeforeAttemptsRestoresNone() {
    ChannelProgress p = new ChannelProgress();
    p.reset(0, new long[0], new Deferrals(), null, 0);
    assertEquals(0, p.takeRecoveredAttempts(0));
  }

  @Test
  void emptyingForgetsFinishedAndDeferralsAndNeverMovesTheCursorBack() {
    ChannelProgress p = new ChannelProgress();
    p.reset(20, new long[] {22, 23}, new Deferrals(List.of(new Channel.Deferral(21, 3, 9_000, 1))), new long[0], 0);
    p.deferred(deferredMessage(24, 3, 9_000, 1));
    Channel.Progressed emptied = p.emptyTo(15, 4);
    assertEquals(20, emptied.cursor(), "the cursor never goes back");
    assertEquals(4, emptied.cursorSeqNr());
    assertEquals(0, emptied.finished().length);
    assertTrue(emptied.deferred().isEmpty(), "no deferral is left");
    assertNull(p.writtenDeferral(21));
    assertFalse(p.isDirty());
    assertTrue(p.write(4, new AttemptCounts.Collector()).deferredNow().isEmpty(), "a deferral made before the empty is not written");
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

  private static AttemptCounts.Collector attempts(Map<Long, Integer> counts) {
    AttemptCounts.Collector c = new AttemptCounts.Collector();
    counts.forEach(c::add);
    return c;
  }
}
