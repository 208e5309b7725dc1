package herald.settings;

import com.typesafe.config.Config;

import java.io.Serializable;
import java.time.Duration;

/** The node's limits and addresses, read once from the {@code herald} config block. */
public record Settings(
    String httpHost,
    int httpPort,
    String clusterHost,
    int clusterPort,
    String dataPath,
    Duration msgTimeout,
    Duration maxMsgTimeout,
    Duration maxReqTimeout,
    int maxMsgSize,
    int maxBodySize,
    int maxRdyCount,
    int memQueueSize,
    String journal,
    String join,
    String advertisedHttp,
    Duration dedupWindow,
    int dedupMaxIds,
    String tcpHost,
    int tcpPort,
    String broadcastAddress,
    Duration retentionTime,
    long retentionBytes) implements Serializable {

  /** A member's role "http=HOST:PORT" says where its HTTP API is. */
  public static final String HTTP_ROLE_PREFIX = "http=";
  /** A member's role "tcp=BROADCAST-ADDRESS:PORT" says where its NSQ TCP listener is. */
  public static final String TCP_ROLE_PREFIX = "tcp=";

  /** Without the NSQ TCP listener's address: the node's defaults (tests of the broker alone). */
  public Settings(String httpHost, int httpPort, String clusterHost, int clusterPort, String dataPath,
      Duration msgTimeout, Duration maxMsgTimeout, Duration maxReqTimeout, int maxMsgSize, int maxBodySize,
      int maxRdyCount, int memQueueSize, String journal, String join, String advertisedHttp, Duration dedupWindow,
      int dedupMaxIds) {
    this(httpHost, httpPort, clusterHost, clusterPort, dataPath, msgTimeout, maxMsgTimeout, maxReqTimeout, maxMsgSize,
        maxBodySize, maxRdyCount, memQueueSize, journal, join, advertisedHttp, dedupWindow, dedupMaxIds,
        "0.0.0.0", 4150, hostname());
  }

  /** Without retention: a topic keeps only what its channels have not passed. */
  public Settings(String httpHost, int httpPort, String clusterHost, int clusterPort, String dataPath,
      Duration msgTimeout, Duration maxMsgTimeout, Duration maxReqTimeout, int maxMsgSize, int maxBodySize,
      int maxRdyCount, int memQueueSize, String journal, String join, String advertisedHttp, Duration dedupWindow,
      int dedupMaxIds, String tcpHost, int tcpPort, String broadcastAddress) {
    this(httpHost, httpPort, clusterHost, clusterPort, dataPath, msgTimeout, maxMsgTimeout, maxReqTimeout, maxMsgSize,
        maxBodySize, maxRdyCount, memQueueSize, journal, join, advertisedHttp, dedupWindow, dedupMaxIds,
        tcpHost, tcpPort, broadcastAddress, Duration.ZERO, 0);
  }

  /** These settings with the node's retention defaults replaced. */
  public Settings withRetention(Duration time, long bytes) {
    return new Settings(httpHost, httpPort, clusterHost, clusterPort, dataPath, msgTimeout, maxMsgTimeout, maxReqTimeout,
        maxMsgSize, maxBodySize, maxRdyCount, memQueueSize, journal, join, advertisedHttp, dedupWindow, dedupMaxIds,
        tcpHost, tcpPort, broadcastAddress, time, bytes);
  }

  public static Settings from(Config root) {
    Config c = root.getConfig("herald");
    HostPort http = HostPort.parse(c.getString("http-address"), "http-address");
    HostPort cluster = HostPort.parse(c.getString("cluster-address"), "cluster-address");
    HostPort tcp = HostPort.parse(c.getString("tcp-address"), "tcp-address");
    return new Settings(
        http.host(), http.port(), cluster.host(), cluster.port(),
        c.getString("data-path"),
        c.getDuration("msg-timeout"),
        c.getDuration("max-msg-timeout"),
        c.getDuration("max-req-timeout"),
        c.getBytes("max-msg-size").intValue(),
        c.getBytes("max-body-size").intValue(),
        c.getInt("max-rdy-count"),
        c.getInt("mem-queue-size"),
        c.getString("journal"),
        c.getString("join"),
        advertised(http, cluster.host()),
        c.getDuration("dedup-window"),
        c.getInt("dedup-max-ids"),
        tcp.host(), tcp.port(), broadcastAddress(c.getString("broadcast-address")),
        c.getDuration("retention-time"), c.getBytes("retention-bytes"));
  }

  /** As nsqd: the address clients are told to use for this node; the host name unless given. */
  public static String broadcastAddress(String configured) {
    return configured.isBlank() ? hostname() : configured;
  }

  public static String hostname() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      return "localhost";
    }
  }

  /** Where NSQ clients reach this node's TCP listener, as /lookup advertises it. */
  public String advertisedTcp() {
    return broadcastAddress + ":" + tcpPort;
  }

  public boolean clustered() {
    return !join.isBlank();
  }

  /** The HTTP address other nodes and clients can use: a wildcard listen address is not one. */
  public static String advertised(HostPort http, String clusterHost) {
    boolean wildcard = http.host().equals("0.0.0.0") || http.host().equals("::") || http.host().equals("[::]");
    return (wildcard ? clusterHost : http.host()) + ":" + http.port();
  }

  public record HostPort(String host, int port) {
    public static HostPort parse(String value, String what) {
      int colon = value.lastIndexOf(':');
      if (colon <= 0 || colon == value.length() - 1) {
        throw new IllegalArgumentException(what + " must be HOST:PORT, got '" + value + "'");
      }
      try {
        int port = Integer.parseInt(value.substring(colon + 1));
        if (port < 0 || port > 65535) throw new NumberFormatException();
        return new HostPort(value.substring(0, colon), port);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(what + " has no valid port: '" + value + "'");
      }
    }
  }
}
