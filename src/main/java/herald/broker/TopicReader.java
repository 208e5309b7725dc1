package herald.broker;

import org.apache.pekko.NotUsed;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByPersistenceIdQuery;
import org.apache.pekko.stream.javadsl.Source;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Where a channel stands in its topic's journal and whether it takes the topic's pushes live or
 * reads the journal back (after a start, when it fell behind, or after a gap). It decides; the
 * channel runs the reads ({@link #nextRead}) and takes the messages ({@link Taker}).
 */
final class TopicReader {

  /** Where the messages go. */
  interface Taker {
    /** Takes a topic write into the channel; calls {@link #taken} when done. */
    void take(long seqNr, Topic.MessagesAppended batch);

    /** Messages held in memory now against the bound: the ready buffer, and what else the channel counts. */
    int buffered();

    /** Offsets [from, to) are no longer in the journal. */
    void missing(long from, long to);
  }

  /**
   * A read to run: the topic's journal from {@code fromSeqNr} up to {@code toSeqNr}, until
   * {@code room} messages are taken. The bound matters: the journal reads and deserializes a batch
   * of writes at a time whatever the reader takes of it, so without it a channel behind large
   * writes (thousands of messages each) read many times what it kept.
   */
  record Read(long generation, long fromSeqNr, long toSeqNr, long room) {
    /** Whether the read stopped before the journal's end: its room filled, or it reached its bound. */
    boolean filled(long taken, List<EventEnvelope> events) {
      return taken >= room || !events.isEmpty() && events.get(events.size() - 1).sequenceNr() >= toSeqNr;
    }
  }

  enum PushAction { TAKE, IGNORE, READ }

  private final boolean topicEphemeral;
  private final int memQueueSize;
  private long readOffset;      // the next offset not yet taken from the topic
  private long readSeqNr = 1;   // the next topic journal write to read
  private long maxPushedSeqNr;  // reads must reach past this before pushes can be taken live
  private long topicNextOffset;
  // Pushes that arrive while a read is running; spliced after it when they follow on, so that a
  // channel behind a busy topic goes live again instead of racing every new write.
  private final ArrayDeque<Channel.Push> pending = new ArrayDeque<>();
  private long pendingCount;
  private boolean live;
  private boolean reading;
  private boolean readOnTick;
  private long generation;
  // Messages per topic write, smoothed over the writes seen: how many writes a read needs.
  private double messagesPerWrite;

  TopicReader(boolean topicEphemeral, int memQueueSize) {
    this.topicEphemeral = topicEphemeral;
    this.memQueueSize = Math.max(1, memQueueSize);
  }

  int memQueueSize() {
    return memQueueSize;
  }

  long readOffset() {
    return readOffset;
  }

  long readSeqNr() {
    return readSeqNr;
  }

  long topicNextOffset() {
    return topicNextOffset;
  }

  boolean isLive() {
    return live;
  }

  boolean isReading() {
    return reading;
  }

  /** A read that found nothing waits for the next tick. */
  boolean waitsForTick() {
    return readOnTick;
  }

  void tick() {
    readOnTick = false;
  }

  /** Starts from this position, not live: a read comes first. Any read running is forgotten. */
  void reset(long offset, long seqNr) {
    readOffset = offset;
    readSeqNr = seqNr;
    live = false;
    generation++;
    reading = false;
    readOnTick = false;
    clearPending();
  }

  /** What the topic said on attach: how far it is. */
  void topicAt(long nextOffset, long lastSeqNr) {
    topicNextOffset = Math.max(topicNextOffset, nextOffset);
    maxPushedSeqNr = Math.max(maxPushedSeqNr, lastSeqNr);
  }

  /** An ephemeral topic cannot be read back: the channel takes pushes from the start. */
  void goLive() {
    live = true;
  }

  /**
   * The channel was emptied up to here; every push up to that point came before, so what follows is
   * live. A push written after the emptying that overtook it (sent the other way, as the topic
   * switched from sharding to telling the channel directly) was taken and is now cleared: read back.
   */
  void emptiedTo(long offset, long seqNr) {
    generation++;
    reading = false;
    clearPending();
    if (readOffset > offset) {
      readOffset = offset;
      readSeqNr = seqNr;
      live = false;
      return;
    }
    readOffset = offset;
    readSeqNr = Math.max(readSeqNr, seqNr);
    live = true;
  }

  /** Messages waiting in the topic's journal, not yet read (finished ones excepted). */
  long unread(ChannelProgress progress) {
    return topicEphemeral ? 0 : Math.max(0, topicNextOffset - readOffset - progress.finishedFrom(readOffset));
  }

  /** A topic write was taken, up to {@code nextOffset}. */
  void taken(long seqNr, long nextOffset) {
    readOffset = Math.max(readOffset, nextOffset);
    readSeqNr = Math.max(readSeqNr, seqNr + 1);
  }

  /** What to do with a push from the topic. */
  PushAction push(Channel.Push push, boolean exists, int buffered) {
    Topic.MessagesAppended batch = push.batch();
    topicNextOffset = Math.max(topicNextOffset, batch.nextOffset());
    seen(batch);
    if (!exists || !live) {
      maxPushedSeqNr = Math.max(maxPushedSeqNr, push.seqNr());
      if (reading && pendingCount + batch.messages().size() <= memQueueSize) {
        pending.addLast(push);
        pendingCount += batch.messages().size();
      }
      return PushAction.READ;
    }
    if (push.seqNr() < readSeqNr) return PushAction.IGNORE;
    boolean gap = batch.firstOffset() > readOffset;
    if (!topicEphemeral && (gap || buffered + batch.messages().size() > memQueueSize)) {
      // Stop holding bodies; they are read back from the topic's journal as consumers drain. A gap
      // (a push that never arrived) is read back the same way.
      live = false;
      maxPushedSeqNr = push.seqNr();
      return PushAction.READ;
    }
    return PushAction.TAKE;
  }

  /** The read to start now, or null; {@code ready} says whether the channel can read at all. */
  Read nextRead(boolean ready, int buffered) {
    if (reading || live || readOnTick || !ready || topicEphemeral) return null;
    // Read again once half the buffer is gone: a few large reads rather than many of one write.
    if (buffered > memQueueSize / 2) return null;
    reading = true;
    long room = memQueueSize - buffered;
    // One write more than the estimate: a write without messages (a channel created) may be among them.
    long writes = messagesPerWrite < 1 ? room : (long) Math.ceil(room / messagesPerWrite) + 1;
    return new Read(generation, readSeqNr, readSeqNr + writes - 1, room);
  }

  private void seen(Topic.MessagesAppended batch) {
    int n = batch.messages().size();
    messagesPerWrite = messagesPerWrite < 1 ? n : 0.75 * messagesPerWrite + 0.25 * n;
  }

  /** False for a read that an empty or a restart made moot. */
  boolean isCurrent(long readGeneration) {
    return readGeneration == generation;
  }

  /** The read failed: it is tried again on the next tick. */
  void readFailed() {
    reading = false;
    clearPending();
  }

  /** Takes what a read found, then the pushes that arrived meanwhile and follow on from it. */
  void readDone(List<EventEnvelope> events, boolean filled, Taker taker) {
    reading = false;
    for (EventEnvelope env : events) {
      if (env.event() instanceof Topic.MessagesAppended batch) {
        seen(batch);
        if (batch.firstOffset() > readOffset && !topicEphemeral) taker.missing(readOffset, batch.firstOffset());
        taker.take(env.sequenceNr(), batch);
      }
      readSeqNr = Math.max(readSeqNr, env.sequenceNr() + 1);
    }
    if (!filled) splice(taker);
    clearPending();
    // Past every write pushed so far: later pushes follow on (a gap among them is read back).
    if (!filled && readSeqNr > maxPushedSeqNr) live = true;
    // A read that found nothing new is tried again on the tick, not at once in a loop.
    readOnTick = !live && events.isEmpty();
  }

  /**
   * Takes the pushes that arrived during a read and follow on from it (offsets are contiguous
   * across writes; other events between them carry no messages), as long as they fit in memory.
   */
  private void splice(Taker taker) {
    for (Channel.Push p : pending) {
      Topic.MessagesAppended batch = p.batch();
      if (batch.firstOffset() > readOffset || taker.buffered() + batch.messages().size() > memQueueSize) return;
      taker.take(p.seqNr(), batch);
    }
  }

  private void clearPending() {
    pending.clear();
    pendingCount = 0;
  }

  /**
   * The topic writes that hold these messages, each read once: runs of nearby writes in one query,
   * so many deferrals that come due together cost a few reads.
   */
  static Source<EventEnvelope, NotUsed> writes(
      CurrentEventsByPersistenceIdQuery journal, String persistenceId, List<ChannelMessage> messages) {
    TreeSet<Long> seqNrs = new TreeSet<>();
    for (ChannelMessage m : messages) seqNrs.add(m.seqNr);
    List<long[]> runs = new ArrayList<>();
    for (long s : seqNrs) {
      long[] last = runs.isEmpty() ? null : runs.get(runs.size() - 1);
      if (last != null && s - last[1] <= NEARBY_WRITES) last[1] = s;
      else runs.add(new long[] {s, s});
    }
    return Source.from(runs).flatMapConcat(r -> journal.currentEventsByPersistenceId(persistenceId, r[0], r[1]));
  }

  private static final long NEARBY_WRITES = 16;

  static int messagesIn(EventEnvelope env) {
    return env.event() instanceof Topic.MessagesAppended batch ? batch.messages().size() : 0;
  }
}
