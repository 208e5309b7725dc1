package herald.broker;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.LongConsumer;

/**
 * A channel's messages waiting for a consumer: the ready buffer (in order, with bodies) and the
 * deferred ones (a deferred publish, or a REQ with a delay) ordered by due time. A deferred message
 * keeps only its position and due time: its body is read back from the topic's journal when it is
 * due ({@link #takeDueWithoutBody}, {@link #bodyRead}), so deferrals cost no body memory. A queue
 * that keeps bodies (an ephemeral topic, which has no journal) keeps them while deferred too.
 *
 * <p>A REQ deferral ends when its message is back in the ready buffer (or lost): the queue says so
 * to {@code deferralEnded}, for the channel's progress. Nothing here walks the deferred messages
 * per call except {@link #forEach}: a channel may hold a million of them.
 */
final class ReadyQueue {
  private final boolean keepDeferredBodies;
  private final LongConsumer deferralEnded;
  private final ArrayDeque<ChannelMessage> ready = new ArrayDeque<>();
  private final PriorityQueue<ChannelMessage> deferred =
      new PriorityQueue<>((a, b) -> Long.compare(a.deliverAt, b.deliverAt));
  // How many deferred messages each topic write holds: the lowest one without walking them all.
  private final TreeMap<Long, Integer> deferredSeqNrs = new TreeMap<>();
  // Due, body not read back yet; then, while its read runs.
  private final ArrayDeque<ChannelMessage> dueWithoutBody = new ArrayDeque<>();
  private final Set<ChannelMessage> readingBody = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
  // Ready messages that were delivered before (attempts) or joined out of topic-write order (at the
  // head, or behind a later write). While there are none the buffer is in write order and none has
  // attempts, so the progress write needs its head only, not a walk of up to mem-queue-size messages
  // ten times a second.
  private int irregular;

  ReadyQueue(boolean keepDeferredBodies, LongConsumer deferralEnded) {
    this.keepDeferredBodies = keepDeferredBodies;
    this.deferralEnded = deferralEnded;
  }

  /** Ready now when its time has come, otherwise deferred until then. */
  void add(ChannelMessage m, long now) {
    if (m.deliverAt > now) defer(m);
    else toReady(m);
  }

  private void toReady(ChannelMessage m) {
    endDeferral(m);
    readyLast(m);
  }

  private void readyLast(ChannelMessage m) {
    mark(m, m.attempts > 0 || !ready.isEmpty() && m.seqNr < ready.peekLast().seqNr);
    ready.addLast(m);
  }

  private void mark(ChannelMessage m, boolean irregular) {
    m.irregular = irregular;
    if (irregular) this.irregular++;
  }

  private void endDeferral(ChannelMessage m) {
    if (!m.requeueDeferred) return;
    m.requeueDeferred = false;
    deferralEnded.accept(m.offset);
  }

  void addLast(ChannelMessage m) {
    readyLast(m);
  }

  /** Back at the head: it was taken before everything still waiting. */
  void addFirst(ChannelMessage m) {
    mark(m, true);
    ready.addFirst(m);
  }

  /** Held until {@code due}, and remembered in the channel's progress until then. */
  void requeueDeferred(ChannelMessage m, long due) {
    m.deliverAt = due;
    m.requeueDeferred = true;
    defer(m);
  }

  private void defer(ChannelMessage m) {
    if (!keepDeferredBodies) m.body = null;
    deferred.add(m);
    deferredSeqNrs.merge(m.seqNr, 1, Integer::sum);
  }

  /** The next ready message, or null. */
  ChannelMessage poll() {
    ChannelMessage m = ready.pollFirst();
    if (m != null && m.irregular) {
      m.irregular = false;
      irregular--;
    }
    return m;
  }

  /**
   * Moves the deferred messages due by {@code now} on: to the end of the ready buffer, or, without
   * a body, to wait for it (still a deferral until the body is back).
   */
  void releaseDue(long now) {
    while (!deferred.isEmpty() && deferred.peek().deliverAt <= now) {
      ChannelMessage m = deferred.poll();
      deferredSeqNrs.computeIfPresent(m.seqNr, (k, n) -> n == 1 ? null : n - 1);
      if (m.body == null) dueWithoutBody.addLast(m);
      else toReady(m);
    }
  }

  /**
   * Due messages whose bodies are to be read now: at most {@code max}, and none while a read runs
   * (one read at a time, so the ready buffer stays bounded).
   */
  List<ChannelMessage> takeDueWithoutBody(int max) {
    List<ChannelMessage> out = new ArrayList<>();
    if (!readingBody.isEmpty()) return out;
    while (out.size() < max && !dueWithoutBody.isEmpty()) {
      ChannelMessage m = dueWithoutBody.pollFirst();
      readingBody.add(m);
      out.add(m);
    }
    return out;
  }

  /** Its body is back: ready. False when the queue no longer waits for it (emptied meanwhile). */
  boolean bodyRead(ChannelMessage m) {
    if (!readingBody.remove(m)) return false;
    toReady(m);
    return true;
  }

  /** The read failed or found nothing: these wait for the next read. */
  void bodyNotRead(List<ChannelMessage> messages) {
    for (ChannelMessage m : messages) {
      if (readingBody.remove(m)) dueWithoutBody.addFirst(m);
    }
  }

  /** Its body is gone from the journal: the queue forgets it. */
  void bodyLost(ChannelMessage m) {
    readingBody.remove(m);
    endDeferral(m);
  }

  boolean hasDueWithoutBody() {
    return !dueWithoutBody.isEmpty();
  }

  int readyCount() {
    return ready.size();
  }

  boolean hasReady() {
    return !ready.isEmpty();
  }

  /** Deferred, or due and waiting for its body. */
  int deferredCount() {
    return deferred.size() + dueWithoutBody.size() + readingBody.size();
  }

  /**
   * The messages in the ready buffer that were delivered before (attempts above 0). The others are
   * deferred: a REQ deferral keeps its attempts itself, and a deferred publish was never delivered.
   */
  void forEachReadyWithAttempts(Consumer<ChannelMessage> action) {
    if (irregular == 0) return;
    for (ChannelMessage m : ready) if (m.attempts > 0) action.accept(m);
  }

  /** The lowest topic journal write among the waiting messages, or {@code seqNr} if lower. */
  long lowestSeqNr(long seqNr) {
    long[] lowest = {deferredSeqNrs.isEmpty() ? seqNr : Math.min(seqNr, deferredSeqNrs.firstKey())};
    Consumer<ChannelMessage> lower = m -> lowest[0] = Math.min(lowest[0], m.seqNr);
    if (irregular > 0) ready.forEach(lower);
    else if (!ready.isEmpty()) lower.accept(ready.peekFirst());
    dueWithoutBody.forEach(lower);
    readingBody.forEach(lower);
    return lowest[0];
  }

  void clear() {
    ready.clear();
    irregular = 0;
    deferred.clear();
    deferredSeqNrs.clear();
    dueWithoutBody.clear();
    readingBody.clear();
  }
}
