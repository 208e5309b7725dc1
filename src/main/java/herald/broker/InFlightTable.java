package herald.broker;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The messages a channel has sent to a consumer and not yet seen finished, requeued or timed out,
 * each with its deadline. Keeps each consumer's in-flight count in step with the table.
 */
final class InFlightTable {

  static final class Entry {
    final ChannelMessage msg;
    final ChannelConsumers.Consumer consumer;
    final long deliveredAt;
    long deadline;

    Entry(ChannelMessage msg, ChannelConsumers.Consumer consumer, long deliveredAt, long deadline) {
      this.msg = msg;
      this.consumer = consumer;
      this.deliveredAt = deliveredAt;
      this.deadline = deadline;
    }
  }

  private final Map<Long, Entry> entries = new HashMap<>();
  // No entry's deadline is before this: the channel's tick looks for expired entries only once one
  // may be (a walk of every entry in flight, ten times a second, cost more than the deliveries).
  private long earliestDeadline = Long.MAX_VALUE;

  /** Sends {@code msg} to {@code consumer} now: one more attempt, due back by the consumer's timeout. */
  Entry add(ChannelMessage msg, ChannelConsumers.Consumer consumer, long now) {
    msg.attempts++;
    Entry e = new Entry(msg, consumer, now, now + consumer.msgTimeoutMs);
    entries.put(msg.offset, e);
    earliestDeadline = Math.min(earliestDeadline, e.deadline);
    consumer.inFlight++;
    consumer.messageCount++;
    return e;
  }

  Entry get(long offset) {
    return entries.get(offset);
  }

  /** Takes the entry out of the table; null when the offset is not in flight. */
  Entry remove(long offset) {
    Entry e = entries.remove(offset);
    if (e != null) e.consumer.inFlight--;
    return e;
  }

  /**
   * Takes the entry out when {@code holder} holds it (one lookup, as a FIN needs); otherwise leaves
   * the table as it was and returns the entry there, or null.
   */
  Entry removeHeld(long offset, ChannelConsumers.Consumer holder) {
    Entry e = entries.remove(offset);
    if (e == null) return null;
    if (e.consumer != holder) {
      entries.put(offset, e);
      return e;
    }
    e.consumer.inFlight--;
    return e;
  }

  /**
   * Moves the deadline to a full timeout from now, but never past {@code maxTimeoutMs} after the
   * delivery (nsqd's TOUCH and --max-msg-timeout).
   */
  void touch(Entry e, long now, long maxTimeoutMs) {
    e.deadline = Math.min(now + e.consumer.msgTimeoutMs, e.deliveredAt + maxTimeoutMs);
    earliestDeadline = Math.min(earliestDeadline, e.deadline);
  }

  /** Takes out and returns the entries whose deadline has passed. */
  List<Entry> removeExpired(long now) {
    if (now < earliestDeadline) return List.of();
    long[] earliest = {Long.MAX_VALUE};
    List<Entry> expired = removeIf(e -> {
      if (e.deadline <= now) return true;
      earliest[0] = Math.min(earliest[0], e.deadline);
      return false;
    });
    earliestDeadline = earliest[0];
    return expired;
  }

  /** Takes out and returns what {@code consumer} holds. */
  List<Entry> removeHeldBy(ChannelConsumers.Consumer consumer) {
    return removeIf(e -> e.consumer == consumer);
  }

  private List<Entry> removeIf(Predicate<Entry> which) {
    List<Entry> out = new ArrayList<>();
    entries.values().removeIf(e -> {
      if (!which.test(e)) return false;
      e.consumer.inFlight--;
      out.add(e);
      return true;
    });
    return out;
  }

  void forEach(java.util.function.Consumer<Entry> action) {
    entries.values().forEach(action);
  }

  void clear() {
    for (Entry e : entries.values()) e.consumer.inFlight--;
    entries.clear();
    earliestDeadline = Long.MAX_VALUE;
  }

  int size() {
    return entries.size();
  }

  boolean isEmpty() {
    return entries.isEmpty();
  }

  /** The lowest topic journal write among the messages in flight, or {@code seqNr} if lower. */
  long lowestSeqNr(long seqNr) {
    for (Entry e : entries.values()) seqNr = Math.min(seqNr, e.msg.seqNr);
    return seqNr;
  }
}
