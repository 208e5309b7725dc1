package herald.broker;

import org.HdrHistogram.Histogram;

import java.util.ArrayList;
import java.util.List;

/** nsqd's e2e_processing_latency of one channel: FIN time minus publish time, over every FIN. */
final class E2eLatencyRecorder {
  static final double[] QUANTILES = {0.5, 0.95, 0.99, 0.999};

  private Histogram histogram; // in ms; made on the first FIN

  void record(long publishedAtMs, long nowMs) {
    // Auto-resizing, 2 significant digits: a few KB per channel that gets FINs.
    if (histogram == null) histogram = new Histogram(2);
    histogram.recordValue(Math.max(0, nowMs - publishedAtMs));
  }

  /** In nanoseconds (of millisecond precision); the last percentile is the maximum. */
  Channel.E2eLatency stats() {
    if (histogram == null || histogram.getTotalCount() == 0) return Channel.E2eLatency.NONE;
    List<Channel.Percentile> percentiles = new ArrayList<>();
    for (double q : QUANTILES) {
      percentiles.add(new Channel.Percentile(q, histogram.getValueAtPercentile(q * 100) * 1_000_000));
    }
    percentiles.add(new Channel.Percentile(1.0, histogram.getMaxValue() * 1_000_000));
    return new Channel.E2eLatency(histogram.getTotalCount(), percentiles);
  }
}
