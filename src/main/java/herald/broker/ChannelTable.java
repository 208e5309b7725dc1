package herald.broker;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.RecipientRef;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * A topic's channels as it runs: the durable ones are its State's, the ephemeral ones live only
 * here (they never reach the journal and vanish with the topic actor); and the way to tell each
 * one anything.
 */
final class ChannelTable {
  private final boolean topicEphemeral;
  private final Function<String, EntityRef<BrokerEntity.Command>> sharded;
  private final Map<String, Topic.Start> ephemeral = new LinkedHashMap<>();
  private final Map<String, Topic.Start> ephemeralView = Collections.unmodifiableMap(ephemeral);
  private final Map<String, EntityRef<BrokerEntity.Command>> viaSharding = new HashMap<>();
  // Channels that said where they run (Attach, ChannelAt): told directly, not through the shard region
  // and the shard (two hand-offs on every push). Forgotten when they stop.
  private final Map<String, ActorRef<BrokerEntity.Command>> running = new HashMap<>();

  /** {@code sharded}: a channel's entity, for one that has not said where it runs. */
  ChannelTable(boolean topicEphemeral, Function<String, EntityRef<BrokerEntity.Command>> sharded) {
    this.topicEphemeral = topicEphemeral;
    this.sharded = sharded;
  }

  /** Where a channel of this topic started, or null when it has no such channel. */
  Topic.Start startOf(Topic.State state, String channel) {
    Topic.Start start = state.exists() ? state.channels().get(channel) : null;
    return start != null ? start : ephemeral.get(channel);
  }

  /** No channel at all, durable or ephemeral: nobody to push messages to. */
  boolean none(Topic.State state) {
    return state.channels().isEmpty() && ephemeral.isEmpty();
  }

  /**
   * Messages wait for the first durable channel while there is none: an ephemeral channel (herald
   * tail) reads them too but never takes them away. An ephemeral topic cannot read back, so it
   * holds them for its first channel of any kind.
   */
  boolean keepBacklog(Topic.State state) {
    return topicEphemeral ? none(state) : state.channels().isEmpty();
  }

  /** Durable ones sorted, then ephemeral ones in the order they came. */
  List<String> all(Topic.State state) {
    List<String> all = new ArrayList<>(new TreeMap<>(state.channels()).keySet());
    all.addAll(ephemeral.keySet());
    return all;
  }

  Map<String, Topic.Start> ephemeral() {
    return ephemeralView;
  }

  boolean anyEphemeral() {
    return !ephemeral.isEmpty();
  }

  boolean isEphemeral(String channel) {
    return ephemeral.containsKey(channel);
  }

  void addEphemeral(String channel, Topic.Start start) {
    ephemeral.put(channel, start);
  }

  void removeEphemeral(String channel) {
    ephemeral.remove(channel);
  }

  void clearEphemeral() {
    ephemeral.clear();
  }

  /** Tells every channel, durable then ephemeral. */
  void tellAll(Topic.State state, BrokerEntity.Command message) {
    for (String channel : state.channels().keySet()) ref(channel).tell(message);
    for (String channel : ephemeral.keySet()) ref(channel).tell(message);
  }

  /**
   * Where to tell a channel anything: the channel itself once it said where it runs, else through
   * sharding. One way per channel at a time keeps this topic's messages to it in order.
   */
  RecipientRef<BrokerEntity.Command> ref(String channel) {
    ActorRef<BrokerEntity.Command> at = running.get(channel);
    if (at != null) return at;
    return viaSharding.computeIfAbsent(channel, sharded);
  }

  /** The channel runs at {@code ref} (null: unknown); true when that is news (the topic then watches it). */
  boolean runsAt(String channel, ActorRef<Channel.Command> ref) {
    if (ref == null) return false;
    ActorRef<BrokerEntity.Command> at = ref.unsafeUpcast();
    return !at.equals(running.put(channel, at));
  }

  /** The channel stopped at {@code ref}: sharding finds its next incarnation. */
  void stopped(String channel, ActorRef<Channel.Command> ref) {
    running.remove(channel, ref.<BrokerEntity.Command>unsafeUpcast());
  }
}
