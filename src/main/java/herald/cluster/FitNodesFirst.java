package herald.cluster;

import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.Address;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.sharding.ShardCoordinator;
import scala.collection.immutable.IndexedSeq;
import scala.collection.immutable.Map;
import scala.concurrent.Future;
import scala.jdk.javaapi.CollectionConverters;
import scala.jdk.javaapi.FutureConverters;

import java.util.HashMap;
import java.util.HashSet;

/**
 * Pekko's least-shard allocation, with the nodes that cannot use the journal (JournalHealth's
 * unfit set) left out: no shard is allocated to them, and every rebalance round moves all of their
 * shards away, to the fit nodes. When every node is unfit nothing moves (there is nowhere better).
 * A node that is fit again takes shards back through the ordinary rebalance.
 */
public final class FitNodesFirst implements ShardCoordinator.ActorSystemDependentAllocationStrategy {
  private final JournalHealth health;
  private final ShardCoordinator.ShardAllocationStrategy least;
  private Address self;

  public FitNodesFirst(JournalHealth health, int rebalanceAbsoluteLimit, double rebalanceRelativeLimit) {
    this.health = health;
    this.least = ShardCoordinator.ShardAllocationStrategy$.MODULE$.leastShardAllocationStrategy(
        rebalanceAbsoluteLimit, rebalanceRelativeLimit);
  }

  @Override
  public void start(ActorSystem system) {
    self = Cluster.get(system).selfAddress();
    if (least instanceof ShardCoordinator.ActorSystemDependentAllocationStrategy s) s.start(system);
  }

  private boolean unfit(ActorRef region) {
    Address address = region.path().address();
    // The coordinator's own node's region is local: it has no host in its path.
    if (!address.hasGlobalScope()) address = self;
    return health.unfitNodes().contains(address.toString());
  }

  /** The allocations of the fit regions, or null when none is unfit or none is fit. */
  private Map<ActorRef, IndexedSeq<String>> fitOnly(Map<ActorRef, IndexedSeq<String>> all) {
    if (health.unfitNodes().isEmpty()) return null;
    java.util.Map<ActorRef, IndexedSeq<String>> fit = new HashMap<>();
    CollectionConverters.asJava(all).forEach((region, shards) -> {
      if (!unfit(region)) fit.put(region, shards);
    });
    if (fit.isEmpty() || fit.size() == all.size()) return null;
    return scala.collection.immutable.Map$.MODULE$.from(CollectionConverters.asScala(fit));
  }

  @Override
  public Future<ActorRef> allocateShard(ActorRef requester, String shardId, Map<ActorRef, IndexedSeq<String>> current) {
    Map<ActorRef, IndexedSeq<String>> fit = fitOnly(current);
    return least.allocateShard(requester, shardId, fit == null ? current : fit);
  }

  @Override
  public Future<scala.collection.immutable.Set<String>> rebalance(Map<ActorRef, IndexedSeq<String>> current,
      scala.collection.immutable.Set<String> inProgress) {
    Map<ActorRef, IndexedSeq<String>> fit = fitOnly(current);
    if (fit == null) return least.rebalance(current, inProgress);
    java.util.Set<String> away = new HashSet<>();
    CollectionConverters.asJava(current).forEach((region, shards) -> {
      if (unfit(region)) away.addAll(CollectionConverters.asJava(shards));
    });
    away.removeAll(CollectionConverters.asJava(inProgress));
    return FutureConverters.asScala(FutureConverters.asJava(least.rebalance(fit, inProgress)).thenApply(balanced -> {
      java.util.Set<String> all = new HashSet<>(away);
      all.addAll(CollectionConverters.asJava(balanced));
      return scala.collection.immutable.Set$.MODULE$.from(CollectionConverters.asScala(all));
    }));
  }
}
