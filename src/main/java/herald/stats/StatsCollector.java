package herald.stats;

import herald.broker.BrokerEntity;
import herald.broker.Channel;
import herald.broker.Topic;
import herald.broker.TopicRegistry;
import org.apache.pekko.actor.typed.ActorSystem;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** Gathers /stats: the registry names the topics, each topic names its channels, all answer in parallel. */
public final class StatsCollector {
  private static final Duration TIMEOUT = Duration.ofSeconds(5);

  /**
   * A topic and its channels. {@code running} is false for a topic whose entity is not running:
   * it is listed from the registry (name and channel names only) instead of being started.
   */
  public record TopicReport(Topic.TopicStats topic, List<Channel.ChannelStats> channels, boolean running) {}

  private StatsCollector() {}

  public static CompletionStage<List<TopicReport>> collect(
      ActorSystem<?> system, Optional<String> topicFilter, Optional<String> channelFilter) {
    return TopicRegistry.ref(system)
        .ask(TopicRegistry.GetTopics::new, TIMEOUT)
        .thenCompose(topics -> {
          List<CompletableFuture<TopicReport>> reports = new ArrayList<>();
          for (String name : topics.names()) {
            if (topicFilter.isPresent() && !topicFilter.get().equals(name)) continue;
            if (topics.running().contains(name)) {
              reports.add(topic(system, name, channelFilter).toCompletableFuture());
            } else {
              List<String> channels = topics.channels().getOrDefault(name, List.of()).stream()
                  .filter(c -> channelFilter.isEmpty() || channelFilter.get().equals(c)).toList();
              reports.add(CompletableFuture.completedFuture(new TopicReport(
                  new Topic.TopicStats(name, true, false, 0, 0, 0, channels, null, 0), List.of(), false)));
            }
          }
          return CompletableFuture.allOf(reports.toArray(CompletableFuture[]::new))
              .thenApply(v -> reports.stream().map(CompletableFuture::join)
                  .filter(r -> r.topic().exists()).toList());
        });
  }

  private static CompletionStage<TopicReport> topic(ActorSystem<?> system, String name, Optional<String> channelFilter) {
    return BrokerEntity.topic(system, name)
        .<Topic.TopicStats>ask(Topic.GetStats::new, TIMEOUT)
        .thenCompose(stats -> {
          List<CompletableFuture<Channel.ChannelStats>> channels = new ArrayList<>();
          for (String channel : stats.channels()) {
            if (channelFilter.isPresent() && !channelFilter.get().equals(channel)) continue;
            channels.add(BrokerEntity.channel(system, name, channel)
                .<Channel.ChannelStats>ask(Channel.GetStats::new, TIMEOUT).toCompletableFuture());
          }
          return CompletableFuture.allOf(channels.toArray(CompletableFuture[]::new))
              .thenApply(v -> new TopicReport(stats, channels.stream().map(CompletableFuture::join)
                  .filter(Channel.ChannelStats::exists).toList(), true));
        });
  }
}
