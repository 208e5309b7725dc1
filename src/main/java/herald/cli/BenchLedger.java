package herald.cli;

import java.util.BitSet;

/**
 * What happened to the messages of one publisher, by sequence number: sent, acknowledged (HTTP
 * 200), consumed. A topic pushes to its channels before it replies, so a message is often
 * consumed before its acknowledgement arrives; both orders are fine, the sets are compared at the
 * end. Also the ledger of the crash soak (CrashSoakTest).
 */
public final class BenchLedger {
  private final BitSet acked = new BitSet();
  private final BitSet consumed = new BitSet();
  private long sent;
  private long duplicates;
  /** First sequence number counted (after a warm-up); the ones before it are verified, not counted. */
  private int from;
  private long sentBefore;

  public synchronized void sent(int count) {
    sent += count;
  }

  /**
   * From this sequence number on, {@link #counts()} counts (the measured part of a run after its
   * warm-up); messages before it still have to be consumed ({@link #missing()}), {@link #missingBefore()}.
   */
  public synchronized void countFrom(long seq) {
    from = Math.toIntExact(seq);
    sentBefore = sent;
  }

  public synchronized void acked(long firstSeq, int count) {
    acked.set(Math.toIntExact(firstSeq), Math.toIntExact(firstSeq + count));
  }

  /** True the first time this sequence number is consumed, false for a duplicate. */
  public synchronized boolean consumed(long seq) {
    if (seq > Integer.MAX_VALUE - 1) return false;
    int i = (int) seq;
    if (consumed.get(i)) {
      if (i >= from) duplicates++;
      return false;
    }
    consumed.set(i);
    return true;
  }

  /** Acknowledged and not (yet) consumed, counted or not. */
  public synchronized long missing() {
    BitSet m = (BitSet) acked.clone();
    m.andNot(consumed);
    return m.cardinality();
  }

  /** Acknowledged before the counted part ({@link #countFrom}) and not consumed. */
  public synchronized long missingBefore() {
    BitSet m = acked.get(0, from);
    m.andNot(consumed.get(0, from));
    return m.cardinality();
  }

  /** The counted part: everything unless {@link #countFrom} was called. */
  public synchronized Counts counts() {
    // BitSet.get(from, to) shifts the range down to index 0.
    BitSet a = acked.get(from, Math.max(from, acked.length()));
    BitSet c = consumed.get(from, Math.max(from, consumed.length()));
    BitSet unacked = (BitSet) c.clone();
    unacked.andNot(a);
    BitSet m = (BitSet) a.clone();
    m.andNot(c);
    int firstMissing = m.nextSetBit(0);
    return new Counts(sent - sentBefore, a.cardinality(), c.cardinality(), duplicates, m.cardinality(), unacked.cardinality(),
        firstMissing < 0 ? -1 : firstMissing + from);
  }

  /**
   * @param consumedUnacked consumed but never acknowledged: the publish failed or timed out on the
   *     client's side after the node had stored it
   * @param firstMissing the lowest missing sequence number, -1 if none
   */
  public record Counts(long sent, long acked, long consumedDistinct, long duplicates, long missing, long consumedUnacked,
      long firstMissing) {}
}
