package herald.node;

import com.typesafe.config.Config;
import herald.broker.BrokerEntity;
import herald.broker.Publisher;
import herald.broker.TopicRegistry;
import herald.cluster.ClusterTls;
import herald.cluster.FitNodesFirst;
import herald.cluster.JournalHealth;
import herald.cluster.JournalWatch;
import herald.cluster.JournalCompatibility;
import herald.cluster.JournalIdentity;
import herald.cluster.PostgresSchema;
import herald.http.HttpApi;
import herald.protocols.nsq.NsqServer;
import herald.stats.TcpProducers;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.javadsl.Tcp;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** One running Herald node: a one-member (for now) Pekko cluster with its broker and HTTP API. */
public final class Node {
  public static final String VERSION = "0.1.0";
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Node.class);

  /** A start-up problem an operator can fix; its message is the one line we print. */
  public static final class StartException extends Exception {
    public StartException(String message) {
      super(message);
    }
  }

  private final ActorSystem<Void> system;
  private final ServerBinding binding;
  private final Optional<ServerBinding> https;
  private final Tcp.ServerBinding tcpBinding;
  private final Settings settings;

  private Node(ActorSystem<Void> system, ServerBinding binding, Optional<ServerBinding> https, Tcp.ServerBinding tcpBinding,
      Settings settings) {
    this.system = system;
    this.binding = binding;
    this.https = https;
    this.tcpBinding = tcpBinding;
    this.settings = settings;
  }

  private static Tcp.ServerBinding bindTcp(ActorSystem<?> system, Settings settings, Publisher publisher,
      PortReservation port, herald.stats.NodeMetrics metrics, ClientSecurity security, TcpProducers producers) throws StartException {
    try {
      return NsqServer.bind(system, settings, publisher, port.listenerOptions(), VERSION, metrics.registry(),
              security.authorizer(), security.tls(), security.tcpTlsRequired(), producers)
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new StartException("cannot listen on tcp address " + settings.tcpHost() + ":" + settings.tcpPort() + ": " + rootMessage(e));
    }
  }

  /** With the listeners' ports chosen already (see PortReservation); the caller closes the reservations. */
  public static Node start(Config config, PortReservation httpPort, PortReservation tcpPort) throws StartException {
    Settings settings = Settings.from(config);
    if (settings.clustered() && settings.journal().equals("leveldb")) {
      throw new StartException("--join needs --journal postgres: in a cluster topics and channels move between "
          + "nodes, and a node's own LevelDB journal would leave their messages behind");
    }
    ClientSecurity security;
    try {
      security = ClientSecurity.from(config);
    } catch (IllegalArgumentException e) {
      throw new StartException(e.getMessage());
    }
    if (settings.journal().equals("postgres")) config = preparePostgres(config);
    try {
      ClusterTls.check(config);
    } catch (RuntimeException e) {
      throw new StartException("cannot use the cluster TLS files: " + rootMessage(e));
    }
    FileLock lock = lockDataPath(Path.of(settings.dataPath()));
    herald.broker.DiskSpace disk = diskSpace(config, settings);
    String journalReport = settings.journal().equals("leveldb") ? checkLevelDb(config) : null;
    ActorSystem<Void> system;
    try {
      system = ActorSystem.create(Behaviors.empty(), "herald", config);
    } catch (RuntimeException e) {
      throw new StartException("cannot start cluster transport on " + settings.clusterHost() + ":"
          + settings.clusterPort() + ": " + rootMessage(e));
    }
    try {
      Cluster cluster = Cluster.get(system);
      // Without seeds this node forms its own cluster; with them Pekko joins the first that answers.
      if (!settings.clustered()) cluster.manager().tell(Join.create(cluster.selfMember().address()));
      JournalHealth journal = new JournalHealth();
      BrokerEntity.init(system, settings, config.getInt("herald.number-of-shards"), fitNodesFirst(config, journal));
      TopicRegistry.init(system, fitNodesFirst(config, journal));
      checkJournal(system, settings);
      system.systemActorOf(JournalWatch.create(journal, config.getDuration("herald.journal-unfit-after"),
          settings.journal().equals("postgres")), "journal-watch", Props.empty());
      herald.stats.NodeMetrics metrics = new herald.stats.NodeMetrics(settings.advertisedHttp());
      system.getWhenTerminated().thenRun(metrics::close);
      system.scheduler().scheduleAtFixedRate(Duration.ofMillis(250), Duration.ofMillis(250), disk::measure, system.executionContext());
      io.micrometer.core.instrument.Gauge.builder("herald.disk.free.bytes", disk, herald.broker.DiskSpace::freeBytes)
          .description("usable bytes on the file system of --data-path").register(metrics.registry());
      io.micrometer.core.instrument.Gauge.builder("herald.disk.min.free.bytes", disk, herald.broker.DiskSpace::minFreeBytes)
          .description("--min-free-space in bytes: below it publishes are refused").register(metrics.registry());
      io.micrometer.core.instrument.Gauge.builder("herald.publishes.refused", disk, d -> d.low() ? 1 : 0)
          .description("1 while publishes are refused for lack of disk space, else 0").register(metrics.registry());
      io.micrometer.core.instrument.Gauge.builder("herald.journal.failing", journal, j -> j.failing() ? 1 : 0)
          .description("1 while this node's journal does not answer (or fails) its probe, else 0").register(metrics.registry());
      io.micrometer.core.instrument.Gauge.builder("herald.journal.unfit", journal, j -> j.unfit() ? 1 : 0)
          .description("1 while this node hands its topics to nodes that can use the journal (--journal-unfit-after), else 0")
          .register(metrics.registry());
      Health health = new Health(journalReport, disk::problem, journal::problem);
      Publisher publisher = new Publisher(system, metrics.registry(), disk);
      TcpProducers producers = new TcpProducers();
      HttpApi api = new HttpApi(system, settings, publisher, metrics, health, producers);
      Route routes = api.routes();
      Optional<ServerBinding> https = Optional.empty();
      if (security.https().isPresent()) {
        Settings.HostPort at = security.https().get();
        try {
          https = Optional.of(Http.get(system).newServerAt(at.host(), at.port())
              .enableHttps(ConnectionContext.httpsServer(security.tls().get()::engine))
              .bind(security.guard(true, 0).wrap(routes))
              .toCompletableFuture().get(10, TimeUnit.SECONDS)
              .addToCoordinatedShutdown(Duration.ofSeconds(5), system));
        } catch (ExecutionException e) {
          throw new StartException("cannot listen on https address " + at.host() + ":" + at.port() + ": " + rootMessage(e));
        }
      }
      int httpsPort = https.map(b -> b.localAddress().getPort()).orElse(0);
      ServerBinding binding = Http.get(system)
          .newServerAt(settings.httpHost(), settings.httpPort())
          .adaptSettings(s -> s.withSocketOptions(httpPort.listenerOptions()))
          .bind(security.guard(false, httpsPort).wrap(routes))
          .toCompletableFuture()
          .get(10, TimeUnit.SECONDS)
          .addToCoordinatedShutdown(Duration.ofSeconds(5), system);
      Tcp.ServerBinding tcp = bindTcp(system, settings, publisher, tcpPort, metrics, security, producers);
      system.getWhenTerminated().thenRun(() -> release(lock));
      security.openWarning("http://" + settings.httpHost() + ":" + binding.localAddress().getPort()).ifPresent(log::warn);
      return new Node(system, binding, https, tcp, settings);
    } catch (StartException e) {
      system.terminate();
      throw e;
    } catch (ExecutionException e) {
      system.terminate();
      throw new StartException("cannot listen on http address " + settings.httpHost() + ":"
          + settings.httpPort() + ": " + rootMessage(e));
    } catch (Exception e) {
      system.terminate();
      throw new StartException("start-up failed: " + rootMessage(e));
    }
  }

  /** Pekko's least-shard allocation over the nodes that can use the journal (FitNodesFirst). */
  private static FitNodesFirst fitNodesFirst(Config config, JournalHealth journal) {
    Config least = config.getConfig("pekko.cluster.sharding.least-shard-allocation-strategy");
    return new FitNodesFirst(journal, least.getInt("rebalance-absolute-limit"), least.getDouble("rebalance-relative-limit"));
  }

  /** The config with the journal's identity in it, for the join check. */
  private static Config preparePostgres(Config config) throws StartException {
    String url = config.getString("herald.postgres.url");
    try {
      return PostgresSchema.ensure(url, config.getString("herald.postgres.user"), config.getString("herald.postgres.password"))
          .addTo(config);
    } catch (Exception e) {
      throw new StartException("cannot use PostgreSQL at " + url + ": " + rootMessage(e));
    }
  }

  /**
   * Reads the LevelDB journal whole before Pekko opens it (JournalCheck): damage stops the start
   * with one line, unless herald.journal-repair; a repair that lost messages is reported in the log,
   * in a file next to the journal and, for this run, in /stats health.
   */
  private static String checkLevelDb(Config config) throws StartException {
    Path journal = Path.of(config.getString("pekko.persistence.journal.leveldb.dir"));
    Path snapshots = Path.of(config.getString("pekko.persistence.snapshot-store.local.dir"));
    JournalCheck.Outcome outcome = JournalCheck.run(journal, snapshots, config.getBoolean("herald.journal-repair"));
    if (!outcome.repaired()) return null;
    String report = "journal repaired at " + java.time.Instant.now() + " (" + String.join("; ", outcome.causes())
        + "; the damaged journal is kept beside it as " + journal.getFileName() + ".damaged-*): " + outcome.lossSummary();
    Path file = journal.resolveSibling("journal-repair-" + System.currentTimeMillis() + ".txt");
    try {
      Files.writeString(file, report + "\n");
    } catch (IOException e) {
      org.slf4j.LoggerFactory.getLogger(Node.class).error("cannot write {}: {}", file, e.toString());
    }
    return report;
  }

  /**
   * The free-space guard on --data-path. LevelDB turns its log into a table when it opens, so a
   * node that could not even do that is refused with the figures instead of dying of SIGBUS.
   */
  private static herald.broker.DiskSpace diskSpace(Config config, Settings settings) throws StartException {
    Path data = Path.of(settings.dataPath());
    herald.broker.DiskSpace disk;
    try {
      // A cluster's journal is PostgreSQL's disk, not this one.
      disk = herald.broker.DiskSpace.of(data, settings.journal().equals("leveldb") ? config.getString("herald.min-free-space") : "0");
    } catch (IOException e) {
      throw new StartException("data path " + data + " is unusable: " + rootMessage(e));
    } catch (IllegalArgumentException e) {
      throw new StartException(e.getMessage());
    }
    if (!settings.journal().equals("leveldb")) return disk;
    long logs = 0;
    Path journal = Path.of(config.getString("pekko.persistence.journal.leveldb.dir"));
    if (Files.isDirectory(journal)) {
      try (var files = Files.list(journal)) {
        for (Path f : files.toList()) if (f.toString().endsWith(".log")) logs += Files.size(f);
      } catch (IOException e) {
        throw new StartException("journal " + journal + " is unusable: " + rootMessage(e));
      }
    }
    long needed = 2 * logs + (16L << 20);
    if (disk.freeBytes() < needed) {
      throw new StartException("not enough free space to open the journal: " + disk.freeBytes() + " bytes free in "
          + data.toAbsolutePath() + ", LevelDB needs about " + needed + " to turn its log (" + logs + " bytes) into a table; free some space");
    }
    return disk;
  }

  /** Two nodes on one LevelDB directory would corrupt it: refuse, and say so. */
  private static FileLock lockDataPath(Path dir) throws StartException {
    try {
      Files.createDirectories(dir);
      if (!Files.isWritable(dir)) throw new StartException("data path " + dir + " is not writable");
      FileChannel channel = FileChannel.open(dir.resolve("herald.lock"),
          StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock lock = channel.tryLock();
      if (lock == null) throw new StartException("data path " + dir + " is in use by another herald node");
      return lock;
    } catch (IOException e) {
      throw new StartException("data path " + dir + " is unusable: " + rootMessage(e));
    }
  }

  private static void release(FileLock lock) {
    try {
      lock.release();
      lock.channel().close();
    } catch (IOException ignored) {
      // the process is ending; the OS drops the lock anyway
    }
  }

  /**
   * Touches the journal once (through the registry, wherever it lives) so a broken journal, or a
   * cluster that cannot be joined, fails the start rather than the first publish.
   */
  private static void checkJournal(ActorSystem<?> system, Settings settings) throws StartException {
    try {
      var answered = TopicRegistry.ref(system).ask(TopicRegistry.GetTopics::new, startTimeout(system)).toCompletableFuture();
      // A node the cluster refuses shuts itself down: stop waiting then.
      CompletableFuture.anyOf(answered, system.getWhenTerminated().toCompletableFuture())
          .get(startTimeout(system).toMillis() + 1000, TimeUnit.MILLISECONDS);
      answered.getNow(null);
      if (!answered.isDone()) throw new IllegalStateException("the node stopped while starting");
    } catch (Exception e) {
      var reason = CoordinatedShutdown.get(system).getShutdownReason();
      if (reason.isPresent() && reason.get().equals(CoordinatedShutdown.incompatibleConfigurationDetectedReason())) {
        // Only a node with --join asks, so this node is on PostgreSQL; the seed logged the cluster's side.
        throw new StartException("the cluster refused this node: " + JournalCompatibility.REFUSAL
            + " (this node uses " + JournalIdentity.of(system.settings().config()) + ")");
      }
      if (reason.isPresent() && reason.get().equals(CoordinatedShutdown.clusterJoinUnsuccessfulReason())) {
        throw new StartException("could not join the cluster at " + system.settings().config().getStringList("pekko.cluster.seed-nodes"));
      }
      if (settings.clustered() && Cluster.get(system).selfMember().status() != MemberStatus.up()) {
        throw new StartException("could not join the cluster at " + settings.join() + " within "
            + startTimeout(system).toSeconds() + " s (--start-timeout): are its nodes up, "
            + (ClusterTls.enabled(system.settings().config())
                ? "on TLS, and is this node's --cluster-tls certificate signed by their CA? (see the log)"
                : "and on plain TCP (no --cluster-tls)? (see the log)"));
      }
      throw new StartException("the journal did not start: " + rootMessage(e));
    }
  }

  private static Duration startTimeout(ActorSystem<?> system) {
    return system.settings().config().getDuration("herald.start-timeout");
  }

  static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }

  public ActorSystem<Void> system() {
    return system;
  }

  public String httpAddress() {
    return settings.httpHost() + ":" + binding.localAddress().getPort();
  }

  /** HOST:PORT of the HTTPS listener, when there is one. */
  public Optional<String> httpsAddress() {
    return https.map(b -> b.localAddress().getHostString() + ":" + b.localAddress().getPort());
  }

  public String tcpAddress() {
    return settings.tcpHost() + ":" + tcpBinding.localAddress().getPort();
  }

  public String clusterAddress() {
    return Cluster.get(system).selfMember().address().toString();
  }

  public Settings settings() {
    return settings;
  }
}
