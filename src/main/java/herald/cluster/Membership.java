package herald.cluster;

import herald.broker.BrokerEntity;
import herald.settings.Settings;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.ddata.ORSet;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;
import org.apache.pekko.cluster.sharding.ShardRegion;
import org.apache.pekko.cluster.sharding.typed.GetClusterShardingStats;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;

/** What /cluster/nodes, /nodes and /lookup say: the cluster's members, where their APIs are, what they host. */
public final class Membership {
  private static final Duration TIMEOUT = Duration.ofSeconds(5);

  /**
   * A member as nsqlookupd describes an nsqd: remote_address is its cluster address; hostname and
   * broadcast_address are the address it tells clients to use; tcp_port 0 while it has no NSQ TCP
   * listener.
   */
  public record Producer(String remoteAddress, String hostname, String broadcastAddress, int tcpPort, int httpPort) {}

  /**
   * One member; shards and entities count topics and channels (the broker entity type);
   * journalUnfit: it cannot use the journal and hands its shards away (JournalWatch).
   */
  public record NodeInfo(
      String address, String status, boolean reachable, String httpAddress, int shards, int entities,
      boolean journalUnfit) {}

  private Membership() {}

  public static CompletionStage<List<NodeInfo>> nodes(ActorSystem<?> system) {
    ClusterEvent.CurrentClusterState state = Cluster.get(system).state();
    Set<Member> unreachable = state.getUnreachable();
    CompletionStage<Set<String>> unfit = unfitNodes(system);
    return AskPattern.<org.apache.pekko.cluster.sharding.typed.ClusterShardingQuery, ShardRegion.ClusterShardingStats>ask(
            ClusterSharding.get(system).shardState(),
            replyTo -> new GetClusterShardingStats(BrokerEntity.KEY, TIMEOUT, replyTo),
            TIMEOUT.plusSeconds(1), system.scheduler())
        .thenCombine(unfit, (stats, unfitNodes) -> {
          Map<Address, ShardRegion.ShardRegionStats> regions = stats.getRegions();
          List<NodeInfo> nodes = new ArrayList<>();
          for (Member m : state.getMembers()) {
            int shards = 0;
            int entities = 0;
            ShardRegion.ShardRegionStats region = regions.get(m.address());
            if (region != null) {
              for (Object count : region.getStats().values()) {
                shards++;
                entities += ((Number) count).intValue();
              }
            }
            boolean reachable = !unreachable.contains(m);
            nodes.add(new NodeInfo(m.address().toString(), status(m.status(), reachable), reachable,
                httpAddress(m), shards, entities, unfitNodes.contains(m.address().toString())));
          }
          return nodes;
        });
  }

  /** This node's copy of the nodes that said they cannot use the journal (none on LevelDB). */
  private static CompletionStage<Set<String>> unfitNodes(ActorSystem<?> system) {
    return AskPattern.<Replicator.Command, Replicator.GetResponse<ORSet<String>>>ask(
            DistributedData.get(system).replicator(),
            replyTo -> new Replicator.Get<>(JournalWatch.UNFIT, Replicator.readLocal(), replyTo),
            TIMEOUT, system.scheduler())
        .thenApply(r -> r instanceof Replicator.GetSuccess<ORSet<String>> found ? found.get(JournalWatch.UNFIT).getElements() : Set.<String>of());
  }

  /** The members that are up, as nsqlookupd's producers. */
  public static List<Producer> producers(ActorSystem<?> system) {
    List<Producer> out = new ArrayList<>();
    for (Member m : Cluster.get(system).state().getMembers()) {
      String http = httpAddress(m);
      if (m.status() != MemberStatus.up() || http == null) continue;
      Settings.HostPort httpHp = Settings.HostPort.parse(http, "member http address");
      String tcp = role(m, Settings.TCP_ROLE_PREFIX);
      Settings.HostPort tcpHp = tcp == null ? new Settings.HostPort(httpHp.host(), 0) : Settings.HostPort.parse(tcp, "member tcp address");
      String remote = m.address().getHost().orElse("") + ":" + m.address().getPort().orElse(0);
      out.add(new Producer(remote, tcpHp.host(), tcpHp.host(), tcpHp.port(), httpHp.port()));
    }
    return out;
  }

  static String httpAddress(Member m) {
    return role(m, Settings.HTTP_ROLE_PREFIX);
  }

  private static String role(Member m, String prefix) {
    for (String role : m.getRoles()) {
      if (role.startsWith(prefix)) return role.substring(prefix.length());
    }
    return null;
  }

  private static String status(MemberStatus status, boolean reachable) {
    String s = status.toString().toLowerCase(Locale.ROOT);
    return reachable ? s : "unreachable";
  }
}
