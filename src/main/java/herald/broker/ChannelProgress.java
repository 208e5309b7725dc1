package herald.broker;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a channel must not forget: its cursor (every offset below is done), the offsets finished
 * above it, the attempts of messages delivered and not finished, and the REQ delays and attempts
 * restored at recovery whose messages are not read back yet. Changes
 * are applied at once and written in batches ({@link #write}); the topic hears of each written
 * position once ({@link #reportable}).
 */
final class ChannelProgress {
  private long cursor;
  private Ranges finished = new Ranges();
  private Map<Long, Channel.Deferral> recoveredDeferrals = new HashMap<>();
  private Map<Long, Integer> recoveredAttempts = new HashMap<>();
  private long deadLettered;    // messages that left through the dead-letter topic, ever
  private boolean dirty;
  private long reportedSeqNr;   // the last position told to the topic

  /** Starts again from what was written. */
  void reset(long cursor, long[] finishedRanges, List<Channel.Deferral> deferred, long[] attempts, long deadLettered) {
    this.cursor = cursor;
    this.deadLettered = deadLettered;
    this.finished = Ranges.of(finishedRanges);
    this.recoveredDeferrals = new HashMap<>();
    for (Channel.Deferral d : deferred) recoveredDeferrals.put(d.offset(), d);
    this.recoveredAttempts = AttemptCounts.decode(attempts, this::isDone);
  }

  long cursor() {
    return cursor;
  }

  /** Finished: below the cursor or among the finished offsets above it. */
  boolean isDone(long offset) {
    return offset < cursor || finished.contains(offset);
  }

  /** Every offset in [from, to) is finished. */
  boolean allDone(long from, long to) {
    return to <= cursor || finished.covers(Math.max(from, cursor), to);
  }

  /** Marks it finished; {@link #advance} moves the cursor over what is then done. */
  void finish(long offset) {
    finished.add(offset);
  }

  void advance() {
    cursor = finished.advance(cursor);
  }

  /** It left through the dead-letter topic: finished here, and counted. */
  void deadLettered(long offset) {
    finished.add(offset);
    deadLettered++;
  }

  long deadLetteredCount() {
    return deadLettered;
  }

  /** How many offsets at or above {@code from} are finished. */
  long finishedFrom(long from) {
    return finished.countFrom(from);
  }

  /** The REQ delay restored for this offset at recovery, taken out; null when none. */
  Channel.Deferral takeRecoveredDeferral(long offset) {
    return recoveredDeferrals.remove(offset);
  }

  /** The attempts restored for this offset at recovery, taken out; 0 when none. */
  int takeRecoveredAttempts(long offset) {
    Integer n = recoveredAttempts.remove(offset);
    return n == null ? 0 : n;
  }

  /** Something changed that the next write must carry. */
  void changed() {
    dirty = true;
  }

  boolean isDirty() {
    return dirty;
  }

  /** Nothing to write: an ephemeral channel keeps its progress in memory only. */
  void forget() {
    dirty = false;
  }

  /**
   * The event that writes everything: {@code neededSeqNr} is the lowest topic write still needed,
   * {@code deferred} the REQ delays and {@code attempts} the attempts of messages in memory
   * (restored ones not read back yet are added; finished ones are left out).
   */
  Channel.Progressed write(long neededSeqNr, List<Channel.Deferral> deferred, Map<Long, Integer> attempts) {
    dirty = false;
    deferred.addAll(recoveredDeferrals.values());
    recoveredAttempts.keySet().removeIf(this::isDone);
    recoveredAttempts.forEach(attempts::putIfAbsent);
    return new Channel.Progressed(cursor, neededSeqNr, finished.toArray(), deferred,
        AttemptCounts.encode(attempts, this::allDone), deadLettered);
  }

  /** Every offset below {@code offset} is done (the channel was emptied); returns its write. */
  Channel.Progressed emptyTo(long offset, long seqNr) {
    finished.clear();
    recoveredDeferrals.clear();
    recoveredAttempts.clear();
    cursor = Math.max(cursor, offset);
    dirty = false;
    return new Channel.Progressed(cursor, seqNr, new long[0], List.of(), new long[0], deadLettered);
  }

  /** True (once) when {@code seqNr} is further than the topic was last told. */
  boolean reportable(long seqNr) {
    if (seqNr <= reportedSeqNr) return false;
    reportedSeqNr = seqNr;
    return true;
  }

  /** The topic restarted and forgot: the next position is told again. */
  void forgetReported() {
    reportedSeqNr = 0;
  }
}
