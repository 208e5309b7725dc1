package herald.broker;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;

/** The time and size of each publish write to a topic's journal, one timer and one summary per node. */
record WriteMeters(Timer time, DistributionSummary size) {
  private static final Duration[] TIME_BUCKETS = LongStream
      .of(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000).mapToObj(Duration::ofMillis).toArray(Duration[]::new);

  static WriteMeters register(MeterRegistry metrics) {
    return new WriteMeters(
        Timer.builder("herald.journal.write")
            .description("time of one publish write to a topic's journal, from the request to the topic's answer")
            .serviceLevelObjectives(TIME_BUCKETS)
            .register(metrics),
        DistributionSummary.builder("herald.journal.write.batch")
            .description("messages in one publish write to a topic's journal")
            .baseUnit("messages")
            .serviceLevelObjectives(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000,
                GroupCommit.MAX_MESSAGES)
            .register(metrics));
  }

  /** A write of {@code messages} that started at {@code startNanos} (System.nanoTime) ended now. */
  void record(long startNanos, int messages) {
    time.record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
    size.record(messages);
  }
}
