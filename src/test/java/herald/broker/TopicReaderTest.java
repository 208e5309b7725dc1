package herald.broker;

import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TopicReaderTest {

  /** Takes everything into a list; the buffer is what was taken. */
  private static final class Recorder implements TopicReader.Taker {
    final TopicReader reader;
    final List<Long> offsets = new ArrayList<>();
    final List<long[]> missing = new ArrayList<>();

    Recorder(TopicReader reader) {
      this.reader = reader;
    }

    @Override
    public void take(long seqNr, Topic.MessagesAppended batch) {
      for (long o = batch.firstOffset(); o < batch.nextOffset(); o++) if (o >= reader.readOffset()) offsets.add(o);
      reader.taken(seqNr, batch.nextOffset());
    }

    @Override
    public int buffered() {
      return offsets.size();
    }

    @Override
    public void missing(long from, long to) {
      missing.add(new long[] {from, to});
    }
  }

  private static Topic.MessagesAppended batch(long firstOffset, int n) {
    List<Published> messages = new ArrayList<>();
    for (int i = 0; i < n; i++) messages.add(new Published(ByteString.fromString("m"), 0, 0));
    return new Topic.MessagesAppended(firstOffset, messages);
  }

  private static EventEnvelope env(long seqNr, Object event) {
    return new EventEnvelope(Offset.sequence(seqNr), "t|x", seqNr, event, 0L);
  }

  @Test
  void aStartReadsFirstAndGoesLiveOncePastEveryPushedWrite() {
    TopicReader reader = new TopicReader(false, 100);
    reader.reset(0, 1);
    reader.topicAt(3, 2);
    assertNull(reader.nextRead(false, 0), "no read before the channel is attached and exists");
    TopicReader.Read read = reader.nextRead(true, 0);
    assertNotNull(read);
    assertEquals(1, read.fromSeqNr());
    assertEquals(100, read.room());
    assertNull(reader.nextRead(true, 0), "one read at a time");

    Recorder taker = new Recorder(reader);
    assertTrue(reader.isCurrent(read.generation()));
    reader.readDone(List.of(env(1, new Topic.TopicCreated(1)), env(2, batch(0, 3))), false, taker);
    assertEquals(List.of(0L, 1L, 2L), taker.offsets);
    assertEquals(3, reader.readSeqNr());
    assertTrue(reader.isLive());
    assertEquals(TopicReader.PushAction.TAKE, reader.push(new Channel.Push(3, batch(3, 1)), true, 3));
    assertEquals(TopicReader.PushAction.IGNORE, reader.push(new Channel.Push(2, batch(0, 3)), true, 3),
        "a write already read");
  }

  @Test
  void pushesDuringAReadAreSplicedAfterIt() {
    TopicReader reader = new TopicReader(false, 100);
    reader.reset(0, 1);
    TopicReader.Read read = reader.nextRead(true, 0);
    assertEquals(TopicReader.PushAction.READ, reader.push(new Channel.Push(3, batch(2, 2)), true, 0));
    assertEquals(TopicReader.PushAction.READ, reader.push(new Channel.Push(4, batch(4, 1)), true, 0));
    Recorder taker = new Recorder(reader);
    reader.readDone(List.of(env(1, new Topic.TopicCreated(1)), env(2, batch(0, 2))), false, taker);
    assertEquals(List.of(0L, 1L, 2L, 3L, 4L), taker.offsets);
    assertTrue(reader.isLive());
    assertEquals(5, reader.readOffset());
    assertTrue(reader.isCurrent(read.generation()));
  }

  @Test
  void aChannelThatFallsBehindReadsBackAndAFullReadDoesNotGoLive() {
    TopicReader reader = new TopicReader(false, 2);
    reader.reset(0, 1);
    reader.goLive();
    assertEquals(TopicReader.PushAction.READ, reader.push(new Channel.Push(2, batch(0, 3)), true, 0),
        "three messages do not fit in a buffer of two");
    assertFalse(reader.isLive());
    TopicReader.Read read = reader.nextRead(true, 0);
    assertEquals(2, read.room());
    Recorder taker = new Recorder(reader);
    reader.readDone(List.of(env(2, batch(0, 3))), true, taker);
    assertFalse(reader.isLive(), "the buffer filled: more may wait in the journal");
    assertNull(reader.nextRead(true, 2), "no read while the buffer is more than half full");
    assertNotNull(reader.nextRead(true, 1));
  }

  @Test
  void aReadAsksForTheWritesItNeedsAndCountsAsFilledWhenItReachesThem() {
    TopicReader reader = new TopicReader(false, 10_000);
    reader.reset(0, 1);
    assertEquals(10_000, reader.nextRead(true, 0).toSeqNr(), "writes of unknown size: up to one write per message");
    reader.readFailed();
    reader.push(new Channel.Push(2, batch(0, 1000)), true, 0);
    reader.push(new Channel.Push(3, batch(1000, 1000)), true, 0);
    TopicReader.Read read = reader.nextRead(true, 4000);
    assertEquals(6000, read.room());
    assertEquals(1, read.fromSeqNr());
    assertEquals(7, read.toSeqNr(), "six writes of 1000 messages fill the room, and one more for a write without messages");
    assertTrue(read.filled(1000, List.of(env(7, batch(0, 1000)))), "the bound was reached: the journal may hold more");
    assertFalse(read.filled(1000, List.of(env(3, batch(0, 1000)))), "the journal ended before the bound");
    assertFalse(read.filled(0, List.of()));
    assertTrue(read.filled(6000, List.of(env(3, batch(0, 6000)))), "the room is full");
  }

  @Test
  void aGapInThePushesIsReadBack() {
    TopicReader reader = new TopicReader(false, 100);
    reader.reset(0, 1);
    reader.goLive();
    assertEquals(TopicReader.PushAction.READ, reader.push(new Channel.Push(3, batch(5, 1)), true, 0));
    assertFalse(reader.isLive());
  }

  @Test
  void aReadThatFindsNothingWaitsForTheTick() {
    TopicReader reader = new TopicReader(false, 100);
    reader.reset(0, 1);
    reader.topicAt(0, 5);
    reader.nextRead(true, 0);
    reader.readDone(List.of(), false, new Recorder(reader));
    assertTrue(reader.waitsForTick());
    assertNull(reader.nextRead(true, 0));
    reader.tick();
    assertNotNull(reader.nextRead(true, 0));
  }

  @Test
  void emptyingOrARestartMakesARunningReadMoot() {
    TopicReader reader = new TopicReader(false, 100);
    reader.reset(0, 1);
    TopicReader.Read read = reader.nextRead(true, 0);
    reader.emptiedTo(10, 4);
    assertFalse(reader.isCurrent(read.generation()));
    assertTrue(reader.isLive());
    assertEquals(10, reader.readOffset());
    assertEquals(4, reader.readSeqNr());
  }

  @Test
  void aPushTakenBeforeTheEmptyingThatCameBeforeItIsReadBack() {
    TopicReader reader = new TopicReader(false, 100);
    reader.reset(0, 1);
    reader.goLive();
    Recorder taker = new Recorder(reader);
    taker.take(5, batch(10, 3)); // written after the emptying at offset 10 (write 5), arrived first
    reader.emptiedTo(10, 5);
    assertFalse(reader.isLive());
    assertEquals(10, reader.readOffset());
    TopicReader.Read read = reader.nextRead(true, 0);
    assertNotNull(read);
    assertEquals(5, read.fromSeqNr());
  }

  @Test
  void messagesMissingFromTheJournalAreReported() {
    TopicReader reader = new TopicReader(false, 100);
    reader.reset(0, 1);
    reader.nextRead(true, 0);
    Recorder taker = new Recorder(reader);
    reader.readDone(List.of(env(3, batch(4, 1))), false, taker);
    assertEquals(1, taker.missing.size());
    assertEquals(0, taker.missing.get(0)[0]);
    assertEquals(4, taker.missing.get(0)[1]);
  }

  @Test
  void unreadCountsWhatTheTopicHasBeyondTheReadPositionLessFinished() {
    TopicReader reader = new TopicReader(false, 100);
    reader.reset(0, 1);
    reader.topicAt(10, 3);
    ChannelProgress progress = new ChannelProgress();
    progress.reset(0, new long[] {5, 7}, new Deferrals(), new long[0], 0);
    assertEquals(8, reader.unread(progress));
    assertEquals(0, new TopicReader(true, 100).unread(progress), "an ephemeral topic has nothing to read back");
  }

  @Test
  void anEphemeralTopicIsNeverReadBack() {
    TopicReader reader = new TopicReader(true, 1);
    reader.reset(0, 1);
    assertNull(reader.nextRead(true, 0));
    reader.goLive();
    assertEquals(TopicReader.PushAction.TAKE, reader.push(new Channel.Push(2, batch(0, 5)), true, 0),
        "the channel drops what does not fit");
  }
}
