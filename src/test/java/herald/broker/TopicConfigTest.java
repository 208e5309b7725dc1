package herald.broker;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class TopicConfigTest {
  private static final herald.settings.Settings NODE = BrokerTestSystem.SETTINGS; // dedup 2 min, retention none

  @Test
  void aTopicsOwnSettingsBeatTheNodesEachOnItsOwn() {
    assertEquals(120_000, TopicConfig.DEFAULT.dedupWindowMs(NODE));
    assertEquals(new Topic.RetentionStats(NODE.retentionTime().toMillis(), NODE.retentionBytes()),
        TopicConfig.DEFAULT.retention(NODE));
    TopicConfig own = TopicConfig.DEFAULT.with(new TopicConfig(0L, 5_000L, null));
    assertEquals(0, own.dedupWindowMs(NODE), "0 turns dedup off, it is not the node's");
    assertEquals(new Topic.RetentionStats(5_000, NODE.retentionBytes()), own.retention(NODE));
  }

  @Test
  void aChangeToNodeDefaultGoesBackToTheNodes() {
    TopicConfig own = new TopicConfig(1_000L, 5_000L, 100L);
    TopicConfig back = own.with(new TopicConfig(TopicConfig.NODE_DEFAULT, null, TopicConfig.NODE_DEFAULT));
    assertEquals(new TopicConfig(null, 5_000L, null), back);
    assertEquals(120_000, back.dedupWindowMs(NODE));
    assertEquals(new Topic.RetentionStats(5_000, NODE.retentionBytes()), back.retention(NODE));
  }
}
