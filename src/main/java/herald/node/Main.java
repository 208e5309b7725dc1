package herald.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import herald.cluster.ClusterTls;
import herald.settings.Settings;
import herald.settings.Version;
import org.apache.pekko.actor.CoordinatedShutdown;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code java -jar herald.jar [flags]}: runs a node. Every flag is also a key under herald.* in the config. */
@Command(name = "herald", mixinStandardHelpOptions = true, versionProvider = Version.class,
    defaultValueProvider = Main.ConfigDefaults.class, sortOptions = false, usageHelpWidth = 110,
    subcommands = {herald.cli.Bench.class, herald.cli.Pub.class, herald.cli.Tail.class, herald.cli.Stat.class, herald.cli.ToFile.class},
    description = "Runs a Herald node: NSQ's topics and channels, durable, on a Pekko cluster.")
public final class Main implements Callable<Integer> {

  @Option(names = "--http-address", paramLabel = "HOST:PORT", description = "HTTP API and WebSocket address; port 0 = any free port (default: ${DEFAULT-VALUE})")
  String httpAddress;

  @Option(names = "--tcp-address", paramLabel = "HOST:PORT", description = "NSQ TCP protocol (V2) address; port 0 = any free port (default: ${DEFAULT-VALUE})")
  String tcpAddress;

  @Option(names = "--broadcast-address", paramLabel = "HOST", description = "address clients are told to use (/info, /lookup); empty: the host name (default: ${DEFAULT-VALUE})")
  String broadcastAddress;

  @Option(names = "--cluster-address", paramLabel = "HOST:PORT", description = "Pekko remoting address; port 0 = any free port (default: ${DEFAULT-VALUE})")
  String clusterAddress;

  @Option(names = "--data-path", paramLabel = "DIR", description = "journal and snapshots directory (default: ${DEFAULT-VALUE})")
  String dataPath;

  @Option(names = "--join", paramLabel = "HOST:PORT[,HOST:PORT...]", description = "cluster addresses of seed nodes; none: form a new cluster (default: ${DEFAULT-VALUE})")
  String join;

  @Option(names = "--start-timeout", paramLabel = "DURATION", description = "how long a start may take to join the cluster and reach the journal before the node gives up (default: ${DEFAULT-VALUE})")
  String startTimeout;

  @Option(names = "--journal", paramLabel = "leveldb|postgres", description = "leveldb (embedded, one node) or postgres (shared, for clusters) (default: ${DEFAULT-VALUE})")
  String journal;

  @Option(names = "--postgres-url", paramLabel = "JDBC-URL", description = "PostgreSQL for --journal postgres; password from HERALD_POSTGRES_PASSWORD (default: ${DEFAULT-VALUE})")
  String postgresUrl;

  @Option(names = "--postgres-user", paramLabel = "USER", description = "PostgreSQL user (default: ${DEFAULT-VALUE})")
  String postgresUser;

  @Option(names = "--cluster-tls-cert", paramLabel = "PEM", description = "this node's cluster certificate: cluster traffic over TLS, peers must prove they hold a certificate from --cluster-tls-ca (default: none)")
  String clusterTlsCert;

  @Option(names = "--cluster-tls-key", paramLabel = "PEM", description = "its private key (RSA, PKCS#8 or PKCS#1, not encrypted) (default: none)")
  String clusterTlsKey;

  @Option(names = "--cluster-tls-ca", paramLabel = "PEM", description = "the CA that signs every node's cluster certificate (default: none)")
  String clusterTlsCa;

  @Option(names = "--cluster-tls-keystore", paramLabel = "FILE", description = "instead of the PEM files: PKCS#12 store with this node's key and certificate; password from HERALD_CLUSTER_TLS_PASSWORD (default: none)")
  String clusterTlsKeystore;

  @Option(names = "--cluster-tls-truststore", paramLabel = "FILE", description = "PKCS#12 store with the cluster's CA certificate (default: none)")
  String clusterTlsTruststore;

  @Option(names = "--msg-timeout", paramLabel = "DURATION", description = "default time a consumer has to FIN a message (default: ${DEFAULT-VALUE})")
  String msgTimeout;

  @Option(names = "--max-msg-timeout", paramLabel = "DURATION", description = "largest msg_timeout a consumer may ask for (default: ${DEFAULT-VALUE})")
  String maxMsgTimeout;

  @Option(names = "--max-req-timeout", paramLabel = "DURATION", description = "largest REQ delay and publish defer (default: ${DEFAULT-VALUE})")
  String maxReqTimeout;

  @Option(names = "--max-msg-size", paramLabel = "BYTES", description = "largest message body (default: ${DEFAULT-VALUE})")
  String maxMsgSize;

  @Option(names = "--max-body-size", paramLabel = "BYTES", description = "largest /mpub request body (default: ${DEFAULT-VALUE})")
  String maxBodySize;

  @Option(names = "--max-rdy-count", paramLabel = "N", description = "largest RDY a consumer may send (default: ${DEFAULT-VALUE})")
  String maxRdyCount;

  @Option(names = "--mem-queue-size", paramLabel = "N", description = "messages a channel holds in memory; the rest are read back from the journal (default: ${DEFAULT-VALUE})")
  String memQueueSize;

  @Option(names = "--passivate-idle-after", paramLabel = "DURATION", description = "an idle topic or channel stops after this long, keeping its figures for /stats, and starts again when needed; 0: never (default: ${DEFAULT-VALUE})")
  String passivateIdleAfter;

  @Option(names = "--auth-file", paramLabel = "FILE", description = "identities, secrets and rights (JSON, reloaded on change); see docs/security.md")
  String authFile;

  @Option(names = "--auth-http-address", paramLabel = "HOST:PORT[,...]", description = "nsqauthd-compatible auth server(s)")
  String authHttpAddress;

  @Option(names = "--allowed-origins", paramLabel = "URL[,URL...]", description = "web origins besides the node's own that may change state or open WebSockets")
  String allowedOrigins;

  @Option(names = "--https-address", paramLabel = "HOST:PORT", description = "HTTPS and WSS listener; needs --tls-cert and --tls-key")
  String httpsAddress;

  @Option(names = "--tls-cert", paramLabel = "FILE", description = "certificate chain (PEM) for --https-address and the NSQ TCP listener's TLS (tls_v1); reloaded on change")
  String tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "private key (PEM, PKCS#8 or PKCS#1) for --tls-cert")
  String tlsKey;

  @Option(names = "--tls-required", paramLabel = "true|false|tcp-https", arity = "0..1", fallbackValue = "true", description = "true: refuse plain HTTP except /ping and NSQ TCP commands before the TLS upgrade; tcp-https: only the latter (default: ${DEFAULT-VALUE})")
  String tlsRequired;

  @Option(names = "--tls-client-auth-policy", paramLabel = "require|require-verify", description = "ask HTTPS and NSQ TCP TLS clients for a certificate: any (require) or one signed by --tls-root-ca-file (require-verify); makes TLS required on TCP")
  String tlsClientAuthPolicy;

  @Option(names = "--tls-root-ca-file", paramLabel = "FILE", description = "CA certificates (PEM) that sign client certificates")
  String tlsRootCaFile;

  @Option(names = "--dedup-window", paramLabel = "DURATION", description = "how long a topic remembers the X-Herald-Msg-Id of what it stored; 0 = off (default: ${DEFAULT-VALUE})")
  String dedupWindow;

  @Option(names = "--dedup-max-ids", paramLabel = "N", description = "most message ids a topic remembers; past it the oldest go first (default: ${DEFAULT-VALUE})")
  String dedupMaxIds;

  @Option(names = "--retention-time", paramLabel = "DURATION", description = "how long a topic keeps messages every channel "
      + "is done with, for replay (a topic may set its own, POST /topic/config); 0 = none (default: ${DEFAULT-VALUE})")
  String retentionTime;

  @Option(names = "--retention-bytes", paramLabel = "BYTES", description = "how many bytes of its latest messages a topic "
      + "keeps for replay (a topic may set its own); 0 = none (default: ${DEFAULT-VALUE})")
  String retentionBytes;

  @Option(names = "--min-free-space", paramLabel = "N%|BYTES", description = "below this much free space on --data-path "
      + "publishes, new topics and channels, settings, pause and rewind are refused (507 E_DISK_FULL) so the disk never fills; "
      + "FINs and consumers go on (default: ${DEFAULT-VALUE})")
  String minFreeSpace;

  @Option(names = "--journal-unfit-after", paramLabel = "DURATION", description = "a node whose journal has not answered "
      + "for this long hands its topics to nodes whose journal does, until it answers again (default: ${DEFAULT-VALUE})")
  String journalUnfitAfter;

  @Option(names = "--journal-repair", description = "start on a damaged LevelDB journal: keep what is readable, "
      + "report what was lost (log, /stats health, a file next to the journal); without it a damaged journal stops the start")
  boolean journalRepair;

  public static void main(String[] args) {
    // With fewer than 3 cores the common pool has parallelism 1, and the JDK then runs every async
    // CompletableFuture stage (Pekko's asks and futures end up there) on a new thread: a thread per
    // request. Two workers at least; set before anything touches the pool.
    if (System.getProperty("java.util.concurrent.ForkJoinPool.common.parallelism") == null) {
      System.setProperty("java.util.concurrent.ForkJoinPool.common.parallelism",
          String.valueOf(Math.max(2, Runtime.getRuntime().availableProcessors())));
    }
    // Start logging before any thread can race it (SLF4J otherwise replays and warns).
    org.slf4j.LoggerFactory.getILoggerFactory();
    CommandLine cli = new CommandLine(new Main());
    cli.setParameterExceptionHandler((e, a) -> {
      System.err.println("herald: " + e.getMessage() + " (see --help)");
      return 2;
    });
    int code = cli.execute(args);
    if (code != 0) System.exit(code);
  }

  @Override
  public Integer call() {
    Config config;
    try {
      http = PortReservation.of(Settings.HostPort.parse(httpAddress, "--http-address"), "--http-address");
      tcp = PortReservation.of(Settings.HostPort.parse(tcpAddress, "--tcp-address"), "--tcp-address");
      config = load(overrides());
    } catch (IllegalArgumentException | ConfigException e) {
      System.err.println("herald: " + e.getMessage());
      return 2;
    }
    Node node;
    try {
      node = Node.start(config, http, tcp);
    } catch (Node.StartException e) {
      System.err.println("herald: " + e.getMessage());
      return 1;
    } finally {
      http.close();
      tcp.close();
    }
    // Tests read the bound ports from this line (they start nodes with port 0).
    System.out.println("herald " + Version.VERSION + " listening on http://" + node.httpAddress() + " tcp://" + node.tcpAddress()
        + node.httpsAddress().map(a -> " and https://" + a).orElse("")
        + " (cluster " + node.clusterAddress() + ", data " + Path.of(node.settings().dataPath()).toAbsolutePath().normalize() + ")");
    node.system().getWhenTerminated().toCompletableFuture().join();
    // Downed by the others (unreachable too long: stopped, paused, cut off) is not a clean stop: a
    // supervisor that restarts failed services (systemd's Restart=on-failure) starts it again.
    var reason = CoordinatedShutdown.get(node.system()).getShutdownReason();
    if (reason.isPresent() && reason.get().equals(CoordinatedShutdown.clusterDowningReason())) {
      System.err.println("herald: the cluster removed this node (it was unreachable for too long) and it stopped; start it again to rejoin");
      return 1;
    }
    return 0;
  }

  private PortReservation http;
  private PortReservation tcp;

  private Map<String, Object> overrides() {
    Settings.HostPort http = new Settings.HostPort(Settings.HostPort.parse(httpAddress, "--http-address").host(), this.http.port());
    Settings.HostPort tcp = new Settings.HostPort(Settings.HostPort.parse(tcpAddress, "--tcp-address").host(), this.tcp.port());
    Map<String, Object> o = new LinkedHashMap<>();
    o.put("herald.http-address", http.host() + ":" + http.port());
    o.put("herald.tcp-address", tcp.host() + ":" + tcp.port());
    o.put("herald.broadcast-address", broadcastAddress);
    o.put("herald.cluster-address", clusterAddress);
    o.put("herald.data-path", dataPath);
    o.put("herald.msg-timeout", duration("--msg-timeout", msgTimeout));
    o.put("herald.max-msg-timeout", duration("--max-msg-timeout", maxMsgTimeout));
    o.put("herald.max-req-timeout", duration("--max-req-timeout", maxReqTimeout));
    o.put("herald.max-msg-size", positive("--max-msg-size", maxMsgSize));
    o.put("herald.max-body-size", positive("--max-body-size", maxBodySize));
    o.put("herald.max-rdy-count", positive("--max-rdy-count", maxRdyCount));
    o.put("herald.mem-queue-size", nonNegative("--mem-queue-size", memQueueSize));
    o.put("herald.passivate-idle-after", duration("--passivate-idle-after", passivateIdleAfter));
    o.put("herald.auth-file", authFile);
    o.put("herald.auth-http-address", authHttpAddress);
    o.put("herald.allowed-origins", allowedOrigins);
    o.put("herald.https-address", httpsAddress);
    o.put("herald.tls-cert", tlsCert);
    o.put("herald.tls-key", tlsKey);
    o.put("herald.tls-required", tlsRequired);
    o.put("herald.tls-client-auth-policy", tlsClientAuthPolicy);
    o.put("herald.tls-root-ca-file", tlsRootCaFile);
    o.put("herald.dedup-window", duration("--dedup-window", dedupWindow));
    o.put("herald.dedup-max-ids", positive("--dedup-max-ids", dedupMaxIds));
    o.put("herald.retention-time", duration("--retention-time", retentionTime));
    o.put("herald.retention-bytes", bytes("--retention-bytes", retentionBytes));
    Settings.HostPort cluster = Settings.HostPort.parse(clusterAddress, "--cluster-address");
    o.put("pekko.remote.artery.canonical.hostname", cluster.host());
    o.put("pekko.remote.artery.canonical.port", cluster.port());
    o.put("herald.cluster-tls-cert", clusterTlsCert);
    o.put("herald.cluster-tls-key", clusterTlsKey);
    o.put("herald.cluster-tls-ca", clusterTlsCa);
    o.put("herald.cluster-tls-keystore", clusterTlsKeystore);
    o.put("herald.cluster-tls-truststore", clusterTlsTruststore);
    o.putAll(ClusterTls.settings(clusterTlsCert, clusterTlsKey, clusterTlsCa, clusterTlsKeystore, clusterTlsTruststore));
    if (!journal.equals("leveldb") && !journal.equals("postgres")) {
      throw new IllegalArgumentException("--journal must be leveldb or postgres, got '" + journal + "'");
    }
    o.put("herald.journal", journal);
    o.put("herald.min-free-space", minFreeSpace);
    if (journalRepair) o.put("herald.journal-repair", true);
    o.put("herald.journal-unfit-after", duration("--journal-unfit-after", journalUnfitAfter));
    o.put("herald.join", join);
    o.put("herald.start-timeout", duration("--start-timeout", startTimeout));
    o.put("herald.postgres.url", postgresUrl);
    o.put("herald.postgres.user", postgresUser);
    List<String> seeds = new ArrayList<>();
    for (String seed : join.split(",")) {
      if (seed.isBlank()) continue;
      Settings.HostPort s = Settings.HostPort.parse(seed.trim(), "--join");
      seeds.add(Node.memberAddress(s.host(), s.port()));
    }
    o.put("pekko.cluster.seed-nodes", seeds);
    // Every member tells the others where its HTTP API is (for /nodes and /lookup).
    // ... and its NSQ TCP listener (for /lookup's producers).
    o.put("pekko.cluster.roles", List.of(Settings.HTTP_ROLE_PREFIX + Settings.advertised(http, cluster.host()),
        Settings.TCP_ROLE_PREFIX + Settings.broadcastAddress(broadcastAddress) + ":" + tcp.port()));
    return o;
  }

  /** The flags over (postgres.conf for --journal postgres) over application.conf over reference.conf. */
  public static Config load(Map<String, Object> overrides) {
    Config flags = ConfigFactory.parseMap(overrides, "command line flags");
    Config application = ConfigFactory.defaultApplication();
    return ConfigFactory.load(Journal.load(flags, application));
  }

  private static String duration(String flag, String value) {
    return valid(flag, value, c -> c.getDuration("v"), "a duration such as 500ms, 60s, 15m or 1h");
  }

  private static String bytes(String flag, String value) {
    return valid(flag, value, c -> c.getBytes("v"), "a size such as 0, 1048576, 500MB or 10GB");
  }

  /** {@code value} when the config reads it as {@code what}, otherwise an error naming the flag. */
  private static String valid(String flag, String value, java.util.function.Consumer<Config> read, String what) {
    try {
      read.accept(ConfigFactory.empty().withValue("v", ConfigValueFactory.fromAnyRef(value)));
      return value;
    } catch (ConfigException e) {
      throw new IllegalArgumentException(flag + " must be " + what + ", got '" + value + "'");
    }
  }

  private static long positive(String flag, String value) {
    long n = nonNegative(flag, value);
    if (n == 0) throw new IllegalArgumentException(flag + " must be above 0");
    return n;
  }

  private static long nonNegative(String flag, String value) {
    try {
      long n = Long.parseLong(value.trim());
      if (n < 0 || n > Integer.MAX_VALUE) throw new NumberFormatException();
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(flag + " must be a whole number from 0 to " + Integer.MAX_VALUE + ", got '" + value + "'");
    }
  }

  /** Defaults shown by --help come from the config, so the file and the flags never disagree. */
  public static final class ConfigDefaults implements CommandLine.IDefaultValueProvider {
    private final Config config = ConfigFactory.load();

    @Override
    public String defaultValue(CommandLine.Model.ArgSpec spec) {
      if (!(spec instanceof CommandLine.Model.OptionSpec option)) return null;
      String name = option.longestName().substring(2);
      // --postgres-url and --postgres-user are herald.postgres.url and .user in herald.conf.
      String key = "herald." + (name.startsWith("postgres-") ? "postgres." + name.substring("postgres-".length()) : name);
      return config.hasPath(key) ? config.getValue(key).unwrapped().toString() : null;
    }
  }
}
