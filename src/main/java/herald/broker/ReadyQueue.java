package herald.broker;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * A channel's messages waiting for a consumer: the ready buffer (in order) and the deferred ones
 * (a deferred publish, or a REQ with a delay) ordered by due time.
 */
final class ReadyQueue {
  private final ArrayDeque<ChannelMessage> ready = new ArrayDeque<>();
  private final PriorityQueue<ChannelMessage> deferred =
      new PriorityQueue<>((a, b) -> Long.compare(a.deliverAt, b.deliverAt));

  /** Ready now when its time has come, otherwise deferred until then. */
  void add(ChannelMessage m, long now) {
    if (m.deliverAt > now) deferred.add(m);
    else ready.addLast(m);
  }

  void addLast(ChannelMessage m) {
    ready.addLast(m);
  }

  /** Back at the head: it was taken before everything still waiting. */
  void addFirst(ChannelMessage m) {
    ready.addFirst(m);
  }

  /** Held until {@code due}, and remembered in the channel's progress until then. */
  void requeueDeferred(ChannelMessage m, long due) {
    m.deliverAt = due;
    m.requeueDeferred = true;
    deferred.add(m);
  }

  /** The next ready message, or null. */
  ChannelMessage poll() {
    return ready.pollFirst();
  }

  /**
   * Moves the deferred messages due by {@code now} to the end of the ready buffer. True when one of
   * them was a REQ deferral, whose due time the channel's progress no longer needs to keep.
   */
  boolean releaseDue(long now) {
    boolean requeued = false;
    while (!deferred.isEmpty() && deferred.peek().deliverAt <= now) {
      ChannelMessage m = deferred.poll();
      requeued |= m.requeueDeferred;
      m.requeueDeferred = false;
      ready.addLast(m);
    }
    return requeued;
  }

  int readyCount() {
    return ready.size();
  }

  boolean hasReady() {
    return !ready.isEmpty();
  }

  int deferredCount() {
    return deferred.size();
  }

  /** The REQ deferrals in memory, for the channel's progress. */
  List<Channel.Deferral> requeueDeferrals() {
    List<Channel.Deferral> out = new ArrayList<>();
    for (ChannelMessage m : deferred) {
      if (m.requeueDeferred) out.add(new Channel.Deferral(m.offset, m.seqNr, m.deliverAt));
    }
    return out;
  }

  /** The lowest topic journal write among the waiting messages, or {@code seqNr} if lower. */
  long lowestSeqNr(long seqNr) {
    for (ChannelMessage m : ready) seqNr = Math.min(seqNr, m.seqNr);
    for (ChannelMessage m : deferred) seqNr = Math.min(seqNr, m.seqNr);
    return seqNr;
  }

  void clear() {
    ready.clear();
    deferred.clear();
  }
}
