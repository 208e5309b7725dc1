package herald.broker;

import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InFlightTableTest {

  private static ChannelConsumers.Consumer consumer(long timeoutMs) {
    return new ChannelConsumers.Consumer(null, "c", "127.0.0.1:1", ClientInfo.webSocket("127.0.0.1:1"), timeoutMs);
  }

  private static ChannelMessage msg(long offset, long seqNr) {
    return new ChannelMessage(offset, seqNr, 0, ByteString.fromString("m" + offset), 0);
  }

  @Test
  void addingCountsAnAttemptAndSetsTheDeadlineFromTheConsumersTimeout() {
    InFlightTable table = new InFlightTable();
    ChannelConsumers.Consumer c = consumer(1_000);
    ChannelMessage m = msg(7, 3);
    InFlightTable.Entry e = table.add(m, c, 10_000);
    assertEquals(1, m.attempts);
    assertEquals(11_000, e.deadline);
    assertEquals(1, c.inFlight);
    assertEquals(1, c.messageCount);
    assertSame(e, table.get(7));

    table.remove(7);
    table.add(m, c, 20_000);
    assertEquals(2, m.attempts, "a second delivery is a second attempt");
  }

  @Test
  void removeGivesTheEntryBackOnceAndKeepsTheConsumersCount() {
    InFlightTable table = new InFlightTable();
    ChannelConsumers.Consumer c = consumer(1_000);
    table.add(msg(1, 1), c, 0);
    assertEquals(1, table.remove(1).msg.offset);
    assertNull(table.remove(1));
    assertEquals(0, c.inFlight);
    assertTrue(table.isEmpty());

    // removeHeld: one lookup, and only for the consumer that holds it.
    ChannelConsumers.Consumer other = consumer(1_000);
    InFlightTable.Entry e = table.add(msg(2, 1), c, 0);
    assertSame(e, table.removeHeld(2, other), "the entry is answered, so the caller can say who holds it");
    assertSame(e, table.get(2), "and it stays in flight");
    assertEquals(1, c.inFlight);
    assertNull(table.removeHeld(3, c));
    assertSame(e, table.removeHeld(2, c));
    assertEquals(0, c.inFlight);
    assertTrue(table.isEmpty());
  }

  @Test
  void onlyEntriesPastTheirDeadlineExpire() {
    InFlightTable table = new InFlightTable();
    ChannelConsumers.Consumer fast = consumer(100);
    ChannelConsumers.Consumer slow = consumer(10_000);
    table.add(msg(1, 1), fast, 0);
    table.add(msg(2, 1), slow, 0);
    assertTrue(table.removeExpired(99).isEmpty());
    List<InFlightTable.Entry> expired = table.removeExpired(100);
    assertEquals(1, expired.size());
    assertEquals(1, expired.get(0).msg.offset);
    assertEquals(0, fast.inFlight);
    assertEquals(1, slow.inFlight);
    assertEquals(1, table.size());
  }

  @Test
  void everyDeadlineIsKeptWhateverOrderTheEntriesCameAndWent() {
    InFlightTable table = new InFlightTable();
    ChannelConsumers.Consumer fast = consumer(100);
    ChannelConsumers.Consumer slow = consumer(10_000);
    table.add(msg(1, 1), slow, 0);
    assertTrue(table.removeExpired(50).isEmpty());
    // Later, and due sooner than the one before it.
    table.add(msg(2, 1), fast, 60);
    assertTrue(table.removeExpired(159).isEmpty());
    assertEquals(List.of(2L), table.removeExpired(160).stream().map(e -> e.msg.offset).toList());
    // The earliest one finished: the next one is still found when its time comes.
    table.add(msg(3, 1), fast, 200);
    table.add(msg(4, 1), fast, 250);
    table.remove(3);
    assertTrue(table.removeExpired(349).isEmpty());
    assertEquals(List.of(4L), table.removeExpired(350).stream().map(e -> e.msg.offset).toList());
    assertEquals(List.of(1L), table.removeExpired(10_000).stream().map(e -> e.msg.offset).toList());
    assertTrue(table.isEmpty());
  }

  @Test
  void touchGivesAFullTimeoutButNeverPastTheMaximumFromDelivery() {
    InFlightTable table = new InFlightTable();
    InFlightTable.Entry e = table.add(msg(1, 1), consumer(1_000), 0);
    table.touch(e, 500, 10_000);
    assertEquals(1_500, e.deadline);
    table.touch(e, 9_500, 10_000);
    assertEquals(10_000, e.deadline, "capped at delivery + max");
    // A maximum below the consumer's timeout moves the deadline earlier: it expires then.
    InFlightTable.Entry early = table.add(msg(2, 1), consumer(1_000), 0);
    table.touch(early, 0, 500);
    assertEquals(500, early.deadline);
    assertEquals(List.of(2L), table.removeExpired(500).stream().map(x -> x.msg.offset).toList());
  }

  @Test
  void aConsumerThatGoesTakesOnlyItsOwnEntriesOut() {
    InFlightTable table = new InFlightTable();
    ChannelConsumers.Consumer a = consumer(1_000);
    ChannelConsumers.Consumer b = consumer(1_000);
    table.add(msg(1, 1), a, 0);
    table.add(msg(2, 1), b, 0);
    table.add(msg(3, 2), a, 0);
    List<InFlightTable.Entry> held = table.removeHeldBy(a);
    assertEquals(List.of(1L, 3L), held.stream().map(e -> e.msg.offset).sorted().toList());
    assertEquals(0, a.inFlight);
    assertEquals(1, table.size());
    assertEquals(2, table.get(2).msg.offset);
  }

  @Test
  void lowestSeqNrLooksAtEveryEntry() {
    InFlightTable table = new InFlightTable();
    ChannelConsumers.Consumer c = consumer(1_000);
    assertEquals(9, table.lowestSeqNr(9));
    table.add(msg(1, 5), c, 0);
    table.add(msg(2, 4), c, 0);
    assertEquals(4, table.lowestSeqNr(9));
    assertEquals(3, table.lowestSeqNr(3));
    table.clear();
    assertEquals(0, c.inFlight);
  }
}
