package herald.broker;

import herald.settings.Settings;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.cluster.sharding.ShardCoordinator;
import org.apache.pekko.cluster.sharding.typed.ShardingEnvelope;
import org.apache.pekko.cluster.sharding.typed.ShardingMessageExtractor;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;

/**
 * Topics and channels are one sharded entity type, ids {@code t|topic} and {@code c|topic|channel},
 * whose shard id hashes only the topic: a topic and its channels share a shard, so the
 * topic-to-channel push never crosses the network. (Two entity types with equal shard ids would
 * not be co-located.)
 */
public final class BrokerEntity {
  /** What both Topic and Channel accept. */
  public interface Command extends CborSerializable {}

  /** Sent by sharding on hand-off and shutdown: flush what is pending, then stop. */
  public enum Stop implements Topic.Command, Channel.Command {
    INSTANCE
  }

  public static final EntityTypeKey<Command> KEY = EntityTypeKey.create(Command.class, "broker");

  private BrokerEntity() {}

  public static String topicId(String topic) {
    return "t|" + topic;
  }

  public static String channelId(String topic, String channel) {
    return "c|" + topic + "|" + channel;
  }

  public static EntityRef<Command> topic(ActorSystem<?> system, String topic) {
    return ClusterSharding.get(system).entityRefFor(KEY, topicId(topic));
  }

  public static EntityRef<Command> channel(ActorSystem<?> system, String topic, String channel) {
    return ClusterSharding.get(system).entityRefFor(KEY, channelId(topic, channel));
  }

  /**
   * This node has begun to stop (SIGTERM or a leave): its shards are being handed off, so a message
   * sent through sharding now may wait in the stopping region for a home no one gives it, holding
   * the stop up until Pekko's phase timeout.
   */
  public static boolean nodeStopping(ActorSystem<?> system) {
    return CoordinatedShutdown.get(system).getShutdownReason().isPresent();
  }

  public static void init(ActorSystem<?> system, Settings settings, int numberOfShards) {
    init(system, settings, numberOfShards, null);
  }

  /** {@code allocation}: where shards go (null: Pekko's configured default). */
  public static void init(ActorSystem<?> system, Settings settings, int numberOfShards,
      ShardCoordinator.ShardAllocationStrategy allocation) {
    Entity<Command, ShardingEnvelope<Command>> entity = Entity.of(KEY, ctx -> create(ctx.getEntityId(), settings, ctx.getShard()))
        .withMessageExtractor(new TopicShards(numberOfShards))
        .withStopMessage(Stop.INSTANCE);
    ClusterSharding.get(system).init(allocation == null ? entity : entity.withAllocationStrategy(allocation));
  }

  @SuppressWarnings("unchecked")
  private static Behavior<Command> create(String entityId, Settings settings, ActorRef<ClusterSharding.ShardCommand> shard) {
    String[] parts = entityId.split("\\|", 3);
    // Each behavior only ever receives its own commands: the id decides which one it is.
    return switch (parts[0]) {
      case "t" -> Topic.create(parts[1], settings, shard).unsafeCast();
      case "c" -> Channel.create(parts[1], parts[2], settings, shard).unsafeCast();
      default -> throw new IllegalArgumentException("unknown entity id " + entityId);
    };
  }

  static String topicOf(String entityId) {
    int first = entityId.indexOf('|');
    int second = entityId.indexOf('|', first + 1);
    return second < 0 ? entityId.substring(first + 1) : entityId.substring(first + 1, second);
  }

  /** Shard by topic name only. */
  static final class TopicShards extends ShardingMessageExtractor<ShardingEnvelope<Command>, Command> {
    private final int shards;

    TopicShards(int shards) {
      this.shards = shards;
    }

    @Override
    public String entityId(ShardingEnvelope<Command> envelope) {
      return envelope.entityId();
    }

    @Override
    public String shardId(String entityId) {
      return Integer.toString(Math.floorMod(topicOf(entityId).hashCode(), shards));
    }

    @Override
    public Command unwrapMessage(ShardingEnvelope<Command> envelope) {
      return envelope.message();
    }
  }
}
