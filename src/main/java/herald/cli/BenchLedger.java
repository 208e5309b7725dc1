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

  public synchronized void sent(int count) {
    sent += count;
  }

  public synchronized void acked(long firstSeq, int count) {
    acked.set(Math.toIntExact(firstSeq), Math.toIntExact(firstSeq + count));
  }

  /** True the first time this sequence number is consumed, false for a duplicate. */
  public synchronized boolean consumed(long seq) {
    if (seq > Integer.MAX_VALUE - 1) return false;
    int i = (int) seq;
    if (consumed.get(i)) {
      duplicates++;
      return false;
    }
    consumed.set(i);
    return true;
  }

  /** Acknowledged and not (yet) consumed. */
  public synchronized long missing() {
    BitSet m = (BitSet) acked.clone();
    m.andNot(consumed);
    return m.cardinality();
  }

  public synchronized Counts counts() {
    BitSet unacked = (BitSet) consumed.clone();
    unacked.andNot(acked);
    BitSet m = (BitSet) acked.clone();
    m.andNot(consumed);
    return new Counts(sent, acked.cardinality(), consumed.cardinality(), duplicates, m.cardinality(), unacked.cardinality(),
        m.nextSetBit(0));
  }

  /**
   * @param consumedUnacked consumed but never acknowledged: the publish failed or timed out on the
   *     client's side after the node had stored it
   * @param firstMissing the lowest missing sequence number, -1 if none
   */
  public record Counts(long sent, long acked, long consumedDistinct, long duplicates, long missing, long consumedUnacked,
      long firstMissing) {}
}
