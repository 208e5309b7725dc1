package herald.broker;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a channel must not forget: its cursor (every offset below is done), the offsets finished
 * above it, the attempts of messages delivered and not finished (those restored at recovery whose
 * messages are not read back yet included), and its REQ deferrals. Changes are applied at once
 * and written in batches ({@link #write}); the topic hears of each written position once
 * ({@link #reportable}). Deferrals are written as changes only: the written set is the state's
 * ({@link Deferrals}), which this reads and never changes.
 */
final class ChannelProgress {
  private long cursor;
  private Ranges finished = new Ranges();
  private Deferrals written = new Deferrals();
  // Since the last write, by offset: the new deferral, or null when its deferral ended.
  private final Map<Long, Channel.Deferral> deferralChanges = new LinkedHashMap<>();
  private boolean deferralsCleared;
  private Map<Long, Integer> recoveredAttempts = new HashMap<>();
  private long deadLettered;    // messages that left through the dead-letter topic, ever
  private boolean dirty;
  private long reportedSeqNr;   // the last position told to the topic

  /** Starts again from what was written; {@code deferred} is the state's, read as it changes. */
  void reset(long cursor, long[] finishedRanges, Deferrals deferred, long[] attempts, long deadLettered) {
    this.cursor = cursor;
    this.deadLettered = deadLettered;
    this.finished = Ranges.of(finishedRanges);
    this.written = deferred == null ? new Deferrals() : deferred;
    this.deferralChanges.clear();
    this.deferralsCleared = false;
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

  /**
   * The written REQ deferral of this offset, or null. Asked when the message is taken from the
   * topic, once per offset after a start: what this run deferred itself is taken already.
   */
  Channel.Deferral writtenDeferral(long offset) {
    // Asked for every message taken: no boxed lookup while there is none (nearly always).
    return written.isEmpty() ? null : written.get(offset);
  }

  /** A consumer requeued it with a delay: it waits until {@code due}, with its attempts so far. */
  void deferred(ChannelMessage m) {
    deferralChanges.put(m.offset, new Channel.Deferral(m.offset, m.seqNr, m.deliverAt, m.attempts));
    dirty = true;
  }

  /** Its REQ deferral ended: it is back among the messages in memory (or gone). */
  void deferralEnded(long offset) {
    deferralChanges.put(offset, null);
    dirty = true;
  }

  /** Every deferral is forgotten (the channel was rewound): the next write says so. */
  void forgetDeferrals() {
    written = new Deferrals();
    deferralChanges.clear();
    deferralsCleared = true;
    dirty = true;
  }

  /** The attempts restored for this offset at recovery, taken out; 0 when none. */
  int takeRecoveredAttempts(long offset) {
    if (recoveredAttempts.isEmpty()) return 0;
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
    deferralChanges.clear();
    deferralsCleared = false;
  }

  /**
   * The event that writes the progress: {@code neededSeqNr} is the lowest topic write still
   * needed, {@code attempts} the attempts of the messages in memory that no REQ deferral holds
   * (restored ones not read back yet are added; finished ones are left out), and the deferrals
   * that changed since the last write.
   */
  Channel.Progressed write(long neededSeqNr, AttemptCounts.Collector attempts) {
    dirty = false;
    recoveredAttempts.keySet().removeIf(this::isDone);
    // Never among the messages in memory: taking a message took its recovered attempts.
    recoveredAttempts.forEach(attempts::add);
    Deferrals deferredNow = new Deferrals();
    Ranges ended = new Ranges();
    deferralChanges.forEach((offset, d) -> {
      if (d == null) ended.add(offset);
      else deferredNow.put(d);
    });
    deferralChanges.clear();
    List<Channel.Deferral> all = deferralsCleared ? List.of() : null;
    deferralsCleared = false;
    return new Channel.Progressed(cursor, neededSeqNr, finished.toArray(), all,
        attempts.encode(this::allDone), deadLettered, deferredNow, ended.toArray());
  }

  /** Every offset below {@code offset} is done (the channel was emptied); returns its write. */
  Channel.Progressed emptyTo(long offset, long seqNr) {
    finished.clear();
    written = new Deferrals();
    deferralChanges.clear();
    deferralsCleared = false;
    recoveredAttempts.clear();
    cursor = Math.max(cursor, offset);
    dirty = false;
    return new Channel.Progressed(cursor, seqNr, new long[0], List.of(), new long[0], deadLettered, null, null);
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
