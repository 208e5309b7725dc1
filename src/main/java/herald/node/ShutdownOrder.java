package herald.node;

import herald.broker.BrokerEntity;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.ClusterSharding;
import org.apache.pekko.cluster.sharding.ShardRegion;
import org.apache.pekko.pattern.Patterns;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * On SIGTERM the topics and channels stop before the topic registry. Pekko shuts every shard
 * region down at once (phase cluster-sharding-shutdown-region): the registry's shard was handed
 * off at once, and the topics and channels, which tell the registry their figures and that they
 * stopped while they stop, found it gone; their notices waited in the registry's region for a home
 * no one would give it until the phase timed out (a single node took 5-10 s to exit, logging
 * "Graceful shutdown of shard region timed out"). So the broker's region goes first, in the phase
 * before, and the registry (still running, here or elsewhere) takes what they say.
 */
final class ShutdownOrder {
  private ShutdownOrder() {}

  static void brokerBeforeRegistry(ActorSystem<?> system) {
    var classic = Adapter.toClassic(system);
    CoordinatedShutdown shutdown = CoordinatedShutdown.get(system);
    Duration within = Duration.ofMillis(shutdown.timeout(CoordinatedShutdown.PhaseBeforeClusterShutdown()).toMillis());
    shutdown.addTask(CoordinatedShutdown.PhaseBeforeClusterShutdown(), "broker-region-shutdown", () -> {
      Cluster cluster = Cluster.get(classic);
      // A downed node has nowhere to hand its shards: Pekko stops its regions without asking, as here.
      if (cluster.isTerminated() || cluster.selfMember().status() == MemberStatus.down()) {
        return CompletableFuture.completedFuture(Done.getInstance());
      }
      var region = ClusterSharding.get(classic).shardRegion(BrokerEntity.KEY.name());
      return Patterns.gracefulStop(region, within, ShardRegion.gracefulShutdownInstance()).thenApply(stopped -> Done.getInstance());
    });
  }
}
