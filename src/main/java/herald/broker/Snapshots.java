package herald.broker;

/**
 * When a topic stores a snapshot of its state, and which of them bound trimming. One is due each
 * time the journal writes pass the next multiple of {@link #EVERY}; one still being stored when the
 * next is due makes that one wait its turn. Two are kept: recovery falls back to the one before
 * the last if the last cannot be read, so nothing after the second-last stored in this run is
 * ever deleted.
 */
final class Snapshots {
  /** A snapshot of a topic's state is stored every this many journal writes. */
  static final long EVERY = 1000;

  private long round;           // the last snapshot's journal write / EVERY (or recovery's)
  private boolean saving;
  private long last;            // the last one stored in this run
  private long beforeLast;      // the one before it: deletions stop here

  /** Recovered up to journal write {@code seqNr}: the next snapshot is due past the next multiple. */
  void recovered(long seqNr) {
    round = seqNr / EVERY;
  }

  /** Whether one is due after journal write {@code seqNr}; if so it is being stored from now on. */
  boolean due(long seqNr) {
    if (saving || seqNr / EVERY <= round) return false;
    round = seqNr / EVERY;
    saving = true;
    return true;
  }

  /** The one of journal write {@code seqNr} is stored; true when it is newer than the last one (then the last is the one before). */
  boolean saved(long seqNr) {
    saving = false;
    if (seqNr <= last) return false;
    beforeLast = last;
    last = seqNr;
    return true;
  }

  /** Storing it failed: the next one is due at {@link #nextDue}. */
  void failed() {
    saving = false;
  }

  long nextDue() {
    return (round + 1) * EVERY;
  }

  /** The second-last one stored in this run (0 for none): nothing after it may be deleted, and older snapshots go. */
  long beforeLast() {
    return beforeLast;
  }
}
