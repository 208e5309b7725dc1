package herald.broker;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;

import java.time.Duration;

/**
 * When a topic or channel has been idle long enough to stop (passivate). It asks its shard, which
 * sends Stop and starts the entity again for the next message addressed to it.
 */
final class Idleness {
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final Duration after;
  private long lastActive = System.nanoTime();

  /** {@code shard} null (an entity outside sharding) never passivates. */
  Idleness(ActorRef<ClusterSharding.ShardCommand> shard, ActorSystem<?> system) {
    this.shard = shard;
    var config = system.settings().config();
    this.after = config.hasPath("herald.passivate-idle-after") ? config.getDuration("herald.passivate-idle-after") : Duration.ZERO;
  }

  boolean enabled() {
    return shard != null && !after.isZero();
  }

  void active() {
    lastActive = System.nanoTime();
  }

  boolean longEnough() {
    return System.nanoTime() - lastActive >= after.toNanos();
  }

  /** When to look again: when it would have been idle long enough, if nothing happens meanwhile. */
  Duration nextCheck() {
    long left = after.toNanos() - (System.nanoTime() - lastActive);
    return Duration.ofNanos(Math.max(left, Duration.ofMillis(100).toNanos()));
  }

  <M> void passivate(ActorRef<M> self) {
    shard.tell(new ClusterSharding.Passivate<>(self));
  }
}
