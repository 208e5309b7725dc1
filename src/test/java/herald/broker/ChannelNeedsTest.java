package herald.broker;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ChannelNeedsTest {
  private static final Map<String, Topic.Start> CHANNELS = Map.of("a", new Topic.Start(0, 10), "b", new Topic.Start(0, 20));

  @Test
  void aChannelNeedsItsStartUntilItReports() {
    ChannelNeeds needs = new ChannelNeeds();
    assertEquals(10, needs.lowest(CHANNELS, Long.MAX_VALUE));
    assertEquals(5, needs.lowest(CHANNELS, 5), "a lower floor stays");
    needs.reported("a", 50);
    assertEquals(20, needs.lowest(CHANNELS, Long.MAX_VALUE));
    needs.reported("b", 40);
    assertEquals(40, needs.lowest(CHANNELS, Long.MAX_VALUE));
  }

  @Test
  void aReportSentBeforeARewindWasDoneCannotFreeWhatTheRewindNeeds() {
    ChannelNeeds needs = new ChannelNeeds();
    needs.reported("a", 50);
    needs.reported("b", 50);
    needs.rewinding("a", 15);
    assertEquals(15, needs.lowest(CHANNELS, Long.MAX_VALUE));
    needs.reported("a", 60); // sent before the channel moved its cursor back
    assertEquals(15, needs.lowest(CHANNELS, Long.MAX_VALUE));
    needs.rewound("a");
    needs.reported("a", 60);
    assertEquals(50, needs.lowest(CHANNELS, Long.MAX_VALUE));
  }

  @Test
  void aForgottenChannelNeedsItsStartAgain() {
    ChannelNeeds needs = new ChannelNeeds();
    needs.reported("a", 50);
    needs.rewinding("b", 30);
    needs.forget("a");
    assertEquals(10, needs.lowest(CHANNELS, Long.MAX_VALUE));
    needs.clear();
    needs.reported("b", 90);
    assertEquals(10, needs.lowest(Map.of("b", new Topic.Start(0, 20), "a", new Topic.Start(0, 10)), Long.MAX_VALUE));
    assertEquals(90, needs.lowest(Map.of("b", new Topic.Start(0, 20)), Long.MAX_VALUE), "no rewind left to cap it");
  }
}
