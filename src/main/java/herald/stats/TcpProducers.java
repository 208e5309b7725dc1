package herald.stats;

import herald.broker.ClientInfo;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * This node's NSQ TCP publishers, for /stats "producers" as nsqd lists them: every open TCP
 * connection that has published, with its client fields and its count per topic. A connection is
 * listed from its first acknowledged publish until it closes. HTTP publishers are not listed (nsqd
 * does not list them either); each node lists only its own connections.
 */
public final class TcpProducers {

  /** One publishing connection: counted by its connection, read by /stats. */
  public static final class Producer {
    private final String remoteAddress;
    private final long connectTs;
    private volatile String clientId;
    private volatile ClientInfo client;
    private volatile String identity = "";
    private volatile String identityUrl = "";
    private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();

    private Producer(String remoteAddress, long connectTs, String clientId, ClientInfo client) {
      this.remoteAddress = remoteAddress;
      this.connectTs = connectTs;
      this.clientId = clientId;
      this.client = client;
    }

    /** IDENTIFY may come again while a publisher is in nsqd's init state. */
    public void identified(String clientId, ClientInfo client) {
      this.clientId = clientId;
      this.client = client;
    }

    public void authenticated(String identity, String identityUrl) {
      this.identity = identity;
      this.identityUrl = identityUrl;
    }

    public void published(String topic, long messages) {
      counts.computeIfAbsent(topic, t -> new LongAdder()).add(messages);
    }
  }

  /** What /stats shows of a producer; pubCounts by topic name. */
  public record Snapshot(String clientId, ClientInfo client, String remoteAddress, long connectTs,
                         String identity, String identityUrl, Map<String, Long> pubCounts) {}

  private final Set<Producer> live = ConcurrentHashMap.newKeySet();

  /** Listed from now until {@link #closed}: call on the connection's first acknowledged publish. */
  public Producer add(String remoteAddress, long connectTs, String clientId, ClientInfo client) {
    Producer p = new Producer(remoteAddress, connectTs, clientId, client);
    live.add(p);
    return p;
  }

  public void closed(Producer p) {
    if (p != null) live.remove(p);
  }

  /** Oldest connection first. */
  public List<Snapshot> snapshot() {
    List<Snapshot> out = new ArrayList<>();
    for (Producer p : live) {
      Map<String, Long> counts = new TreeMap<>();
      p.counts.forEach((topic, n) -> counts.put(topic, n.sum()));
      out.add(new Snapshot(p.clientId, p.client, p.remoteAddress, p.connectTs, p.identity, p.identityUrl, counts));
    }
    out.sort(Comparator.comparingLong(Snapshot::connectTs).thenComparing(Snapshot::remoteAddress));
    return out;
  }
}
