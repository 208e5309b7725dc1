package herald.broker;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ChannelNeedsTest {
  // Channel a starts at journal write 10, b at 20.
  private static final Map<String, Topic.Start> CHANNELS = Map.of("a", new Topic.Start(0, 10), "b", new Topic.Start(0, 20));

  private static ChannelNeeds reported(long a, long b) {
    ChannelNeeds needs = new ChannelNeeds();
    needs.reported("a", a);
    needs.reported("b", b);
    return needs;
  }

  private static long lowest(ChannelNeeds needs) {
    return needs.lowest(CHANNELS, Long.MAX_VALUE);
  }

  @Test
  void aChannelNeedsItsStartUntilItReports() {
    ChannelNeeds needs = new ChannelNeeds();
    assertEquals(10, lowest(needs));
    assertEquals(5, needs.lowest(CHANNELS, 5), "a lower floor stays");
    needs.reported("a", 50);
    assertEquals(20, lowest(needs), "b has not reported");
    assertEquals(40, lowest(reported(50, 40)));
  }

  @Test
  void aReportSentBeforeARewindWasDoneCannotFreeWhatTheRewindNeeds() {
    ChannelNeeds needs = reported(50, 50);
    needs.rewinding("a", 15);
    needs.reported("a", 60); // sent before the channel moved its cursor back
    assertEquals(15, lowest(needs));
    needs.rewound("a");
    needs.reported("a", 60);
    assertEquals(50, lowest(needs));
  }

  @Test
  void aForgottenChannelNeedsItsStartAgain() {
    ChannelNeeds needs = reported(50, 90);
    needs.rewinding("b", 30);
    needs.forget("a");
    assertEquals(10, lowest(needs));
    needs.clear();
    needs.reported("b", 90);
    assertEquals(10, lowest(needs));
    assertEquals(90, needs.lowest(Map.of("b", new Topic.Start(0, 20)), Long.MAX_VALUE), "no rewind left to cap it");
  }
}
