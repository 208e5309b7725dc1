package herald.broker;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class E2eLatencyRecorderTest {

  @Test
  void noneBeforeTheFirstFin() {
    assertEquals(Channel.E2eLatency.NONE, new E2eLatencyRecorder().stats());
  }

  @Test
  void percentilesInNanosecondsWithTheMaximumLast() {
    E2eLatencyRecorder r = new E2eLatencyRecorder();
    for (int i = 1; i <= 100; i++) r.record(1_000, 1_000 + i);
    r.record(5_000, 4_000); // a clock that went back counts as 0, not negative
    Channel.E2eLatency stats = r.stats();
    assertEquals(101, stats.count());
    assertEquals(E2eLatencyRecorder.QUANTILES.length + 1, stats.percentiles().size());
    assertEquals(0.5, stats.percentiles().get(0).quantile());
    assertEquals(50_000_000, stats.percentiles().get(0).value());
    Channel.Percentile max = stats.percentiles().get(stats.percentiles().size() - 1);
    assertEquals(1.0, max.quantile());
    assertEquals(100_000_000, max.value());
  }
}
