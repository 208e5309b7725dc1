package herald.broker;

import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class StartSearchTest {

  /** Journal write {@code seqNr}: messages from {@code firstOffset} on, published at the given times. */
  private static EventEnvelope write(long seqNr, long firstOffset, long... timestamps) {
    List<Published> messages = new java.util.ArrayList<>();
    for (long t : timestamps) messages.add(new Published(ByteString.fromString("m"), t, 0));
    return new EventEnvelope(Offset.sequence(seqNr), "t|orders", seqNr, new Topic.MessagesAppended(firstOffset, messages));
  }

  @Test
  void theFirstMessageReachedInAWriteIsTheStart() {
    EventEnvelope env = write(7, 10, 1000, 2000, 3000);
    assertEquals(new Topic.Start(10, 7), StartSearch.firstReached(env, ReplayFrom.EARLIEST, 0));
    assertEquals(new Topic.Start(11, 7), StartSearch.firstReached(env, new ReplayFrom(ReplayFrom.Where.TIME, 1500), 0));
    assertEquals(new Topic.Start(12, 7), StartSearch.firstReached(env, new ReplayFrom(ReplayFrom.Where.POSITION, 12), 0));
    assertNull(StartSearch.firstReached(env, new ReplayFrom(ReplayFrom.Where.TIME, 3001), 0), "none published that late");
  }

  @Test
  void messagesOfADeletedTopicUnderTheSameNameAreNoStart() {
    EventEnvelope env = write(7, 10, 1000, 2000, 3000);
    assertEquals(new Topic.Start(12, 7), StartSearch.firstReached(env, ReplayFrom.EARLIEST, 12));
    assertNull(StartSearch.firstReached(env, ReplayFrom.EARLIEST, 13));
    EventEnvelope other = new EventEnvelope(Offset.sequence(8), "t|orders", 8, new Topic.TopicCreated(8));
    assertNull(StartSearch.firstReached(other, ReplayFrom.EARLIEST, 0), "not a write of messages");
  }

  @Test
  void readsFromTheMarkBeforeTheStartButNothingDeleted() {
    JournalMarks marks = new JournalMarks();
    // Writes 1..10, one message each at offset i-1, a second apart: a mark at every write.
    for (int i = 1; i <= 10; i++) marks.written(i, i - 1, 1000L * i, 10L * (i - 1));
    assertEquals(5, StartSearch.readFrom(marks, new ReplayFrom(ReplayFrom.Where.TIME, 5_500), 1));
    assertEquals(7, StartSearch.readFrom(marks, new ReplayFrom(ReplayFrom.Where.POSITION, 6), 1));
    assertEquals(marks.firstSeqNr(), StartSearch.readFrom(marks, ReplayFrom.EARLIEST, 0));
    assertEquals(9, StartSearch.readFrom(marks, new ReplayFrom(ReplayFrom.Where.TIME, 5_500), 9), "below 9 is deleted");
  }
}
