package herald.broker;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChannelConfigTest {

  @Test
  void theDefaultDeadLetterTopicIsNamedAfterTopicAndChannel() {
    assertEquals("orders.billing.dead", new ChannelConfig(5, null).deadLetterTopicOf("orders", "billing"));
    assertEquals("poison", new ChannelConfig(5, "poison").deadLetterTopicOf("orders", "billing"));
    assertNull(new ChannelConfig(5, null).problem("orders", "billing"));
  }

  @Test
  void zeroMeansNoLimit() {
    assertFalse(ChannelConfig.NONE.exhausted(1_000_000));
    assertFalse(new ChannelConfig(3, null).exhausted(2));
    assertTrue(new ChannelConfig(3, null).exhausted(3));
  }

  @Test
  void unusableSettingsAreRefusedWithTheReason() {
    assertNotNull(new ChannelConfig(-1, null).problem("orders", "billing"));
    assertNotNull(new ChannelConfig(ChannelConfig.MAX_ATTEMPTS_LIMIT + 1, null).problem("orders", "billing"));
    assertNotNull(new ChannelConfig(3, "orders").problem("orders", "billing"), "its own topic");
    assertNotNull(new ChannelConfig(3, "bad name").problem("orders", "billing"));
    assertNotNull(new ChannelConfig(3, "dead#ephemeral").problem("orders", "billing"), "an ephemeral topic loses them");
    // Too long for a topic name once ".dead" is added: one must be named.
    String longName = "c".repeat(60);
    String problem = new ChannelConfig(3, null).problem("orders", longName);
    assertTrue(problem.contains("name one"), problem);
    assertNull(new ChannelConfig(3, "orders.dead").problem("orders", longName));
    assertNotNull(new ChannelConfig(3, null).problem("orders", "tail#ephemeral"));
  }
}
