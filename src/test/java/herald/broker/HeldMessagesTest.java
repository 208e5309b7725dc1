package herald.broker;

import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HeldMessagesTest {

  private static Channel.Push push(long firstOffset, int messages) {
    List<Published> batch = new ArrayList<>();
    for (int i = 0; i < messages; i++) batch.add(new Published(ByteString.fromString("m"), 1, 0));
    return new Channel.Push(firstOffset + 1, new Topic.MessagesAppended(firstOffset, batch));
  }

  @Test
  void holdsUpToItsLimitAndDropsAWholePushThatWouldPassIt() {
    HeldMessages held = new HeldMessages(5);
    Channel.Push first = push(0, 3);
    Channel.Push tooMany = push(3, 3);
    Channel.Push fits = push(6, 2);
    held.hold(first);
    held.hold(tooMany);
    held.hold(fits);
    assertEquals(5, held.count());
    assertEquals(List.of(first, fits), held.takeAll());
  }

  @Test
  void whatIsTakenIsHeldNoMore() {
    HeldMessages held = new HeldMessages(10);
    held.hold(push(0, 4));
    assertEquals(1, held.takeAll().size());
    assertTrue(held.isEmpty());
    assertEquals(0, held.count());
    assertEquals(List.of(), held.takeAll());
    held.hold(push(4, 10));
    assertEquals(10, held.count(), "the whole limit is free again");
    held.drop();
    assertTrue(held.isEmpty());
  }
}
