package herald.broker;

import java.time.Duration;

/**
 * A topic's deletion of the journal events no channel needs and retention does not keep: one
 * deletion at a time, in steps of at least {@link #STEP} events (each one is a journal write), and
 * none while a journal read looks for where a channel starts (what it finds must stay).
 */
final class Trimming {
  /** Events are deleted in steps of at least this many: each deletion is one more journal write. */
  static final long STEP = 500;

  // A deletion not answered in this long is taken for lost: the next one may start.
  private static final long ANSWER_NANOS = Duration.ofSeconds(30).toNanos();

  private long trimmedTo;       // asked for
  private long deletedTo;       // confirmed by the journal
  private boolean inFlight;
  private long startedNanos;
  private int reads;            // journal reads finding where a channel starts

  /** Whether a deletion may start at {@code now}: no journal read under way, none answered recently. */
  boolean mayStart(long now) {
    return reads == 0 && (!inFlight || now - startedNanos >= ANSWER_NANOS);
  }

  /**
   * A deletion up to the lower of {@code needed - 1} (everything from there on is still needed) and
   * {@code limit}, if that is a step past the last one asked for: its last sequence number, which is
   * then under way; -1 for none.
   */
  long start(long needed, long limit, long now) {
    long upTo = Math.min(needed - 1, limit);
    if (upTo - trimmedTo < STEP) return -1;
    trimmedTo = upTo;
    inFlight = true;
    startedNanos = now;
    return upTo;
  }

  /** The journal deleted up to {@code seqNr}. */
  void deleted(long seqNr) {
    inFlight = false;
    deletedTo = seqNr;
  }

  /** The deletion failed: the next one asks again from the start. */
  void failed() {
    inFlight = false;
    trimmedTo = 0;
  }

  /** Whether a deletion waits for its answer. */
  boolean inFlight() {
    return inFlight;
  }

  /** Events up to here were deleted (confirmed), 0 for none yet. */
  long deletedTo() {
    return deletedTo;
  }

  /** The first event a journal read may find: those below are deleted or being deleted. */
  long firstKept() {
    return Math.max(trimmedTo, deletedTo) + 1;
  }

  void readStarted() {
    reads++;
  }

  void readDone() {
    reads--;
  }
}
