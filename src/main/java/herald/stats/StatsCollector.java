package herald.stats;

import herald.broker.BrokerEntity;
import herald.broker.Channel;
import herald.broker.Topic;
import herald.broker.TopicRegistry;
import org.apache.pekko.actor.typed.ActorSystem;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** Gathers /stats: the registry names the topics, each topic names its channels, all answer in parallel. */
public final class StatsCollector {
  private static final Duration TIMEOUT = Duration.ofSeconds(5);

  /**
   * A topic and its channels. {@code running}: the topic's entity runs (its figures are live).
   * {@code known}: its figures are known, live or kept by the registry when it stopped for
   * idleness (then its {@code node} is null, as is that of an idle channel). A topic not known is
   * listed by name (its channels in {@code unknownChannels}) instead of being started to count;
   * so is a channel of a stopped topic that stopped without leaving its figures (a crash).
   */
  public record TopicReport(Topic.TopicStats topic, List<Channel.ChannelStats> channels, boolean running,
      boolean known, List<String> unknownChannels) {
    public TopicReport(Topic.TopicStats topic, List<Channel.ChannelStats> channels, boolean running) {
      this(topic, channels, running, running, List.of());
    }
  }

  private StatsCollector() {}

  public static CompletionStage<List<TopicReport>> collect(
      ActorSystem<?> system, Optional<String> topicFilter, Optional<String> channelFilter) {
    return TopicRegistry.ref(system)
        .ask(TopicRegistry.GetTopics::new, TIMEOUT)
        .thenCompose(topics -> {
          List<CompletableFuture<TopicReport>> reports = new ArrayList<>();
          for (String name : topics.names()) {
            if (topicFilter.isPresent() && !topicFilter.get().equals(name)) continue;
            Map<String, TopicRegistry.Summary> parked = topics.parked().getOrDefault(name, Map.of());
            List<String> channels = topics.channels().getOrDefault(name, List.of()).stream()
                .filter(c -> channelFilter.isEmpty() || channelFilter.get().equals(c)).toList();
            if (topics.running().contains(name)) {
              reports.add(running(system, name, channelFilter, parked, topics.runningChannels()).toCompletableFuture());
            } else if (parked.containsKey("")) {
              TopicRegistry.Summary t = parked.get("");
              Topic.TopicStats stats = new Topic.TopicStats(name, true, t.paused(), t.depth(), t.messageCount(),
                  t.messageBytes(), topics.channels().getOrDefault(name, List.of()), null, 0);
              List<Channel.ChannelStats> known = new ArrayList<>();
              List<String> unknown = new ArrayList<>();
              List<CompletableFuture<Channel.ChannelStats>> asked = new ArrayList<>();
              for (String c : channels) {
                // A topic stops for idleness while its channels may still serve consumers.
                if (topics.runningChannels().contains(name + "|" + c)) asked.add(channel(system, name, c));
                else if (parked.containsKey(c)) known.add(idleChannel(name, c, parked.get(c)));
                else unknown.add(c);
              }
              reports.add(CompletableFuture.allOf(asked.toArray(CompletableFuture[]::new)).thenApply(v -> {
                asked.stream().map(CompletableFuture::join).filter(Channel.ChannelStats::exists).forEach(known::add);
                return new TopicReport(stats, known, false, true, unknown);
              }));
            } else {
              reports.add(CompletableFuture.completedFuture(new TopicReport(
                  new Topic.TopicStats(name, true, false, 0, 0, 0, channels, null, 0), List.of(), false, false, channels)));
            }
          }
          return CompletableFuture.allOf(reports.toArray(CompletableFuture[]::new))
              .thenApply(v -> reports.stream().map(CompletableFuture::join)
                  .filter(r -> r.topic().exists()).toList());
        });
  }

  /**
   * A channel stopped for idleness, with the figures it left: nobody is connected, none in flight,
   * no dead letter waiting (a channel with one does not stop).
   */
  private static Channel.ChannelStats idleChannel(String topic, String name, TopicRegistry.Summary s) {
    return new Channel.ChannelStats(topic, name, true, s.paused(), s.depth(), s.inFlight(), s.deferred(),
        s.messageCount(), 0, 0, List.of(), null, Channel.E2eLatency.NONE, 0,
        s.deadLetterCount(), s.maxAttempts(), s.deadLetterTopic(), 0);
  }

  /**
   * A running topic and its channels: those that stopped for idleness from their figures, the
   * others asked (a running topic has started all of them).
   */
  private static CompletionStage<TopicReport> running(ActorSystem<?> system, String name, Optional<String> channelFilter,
      Map<String, TopicRegistry.Summary> parked, Set<String> runningChannels) {
    return BrokerEntity.topic(system, name)
        .<Topic.TopicStats>ask(Topic.GetStats::new, TIMEOUT)
        .thenCompose(stats -> {
          List<CompletableFuture<Channel.ChannelStats>> channels = new ArrayList<>();
          for (String channel : stats.channels()) {
            if (channelFilter.isPresent() && !channelFilter.get().equals(channel)) continue;
            if (!runningChannels.contains(name + "|" + channel) && parked.containsKey(channel)) {
              channels.add(CompletableFuture.completedFuture(idleChannel(name, channel, parked.get(channel))));
              continue;
            }
            channels.add(channel(system, name, channel));
          }
          return CompletableFuture.allOf(channels.toArray(CompletableFuture[]::new))
              .thenApply(v -> new TopicReport(stats, channels.stream().map(CompletableFuture::join)
                  .filter(Channel.ChannelStats::exists).toList(), true));
        });
  }

  private static CompletableFuture<Channel.ChannelStats> channel(ActorSystem<?> system, String topic, String channel) {
    return BrokerEntity.channel(system, topic, channel).<Channel.ChannelStats>ask(Channel.GetStats::new, TIMEOUT).toCompletableFuture();
  }
}
