package herald.node;

import com.typesafe.config.Config;
import herald.broker.Publisher;
import herald.cluster.ClusterTls;
import herald.http.HttpApi;
import herald.protocols.nsq.NsqServer;
import herald.settings.Settings;
import herald.settings.Version;
import herald.stats.TcpProducers;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** One running Herald node: a one-member (for now) Pekko cluster with its broker and HTTP API. */
public final class Node {
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
      return NsqServer.bind(system, settings, publisher, port.listenerOptions(), Version.VERSION, metrics.registry(),
              security.authorizer(), security.tls(), security.tcpTlsRequired(), producers)
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new StartException("cannot listen on tcp address " + settings.tcpHost() + ":" + settings.tcpPort() + ": " + rootMessage(e));
    }
  }

  /** With the listeners' ports chosen already (see PortReservation); the caller closes the reservations. */
  public static Node start(Config config, PortReservation httpPort, PortReservation tcpPort) throws StartException {
    Settings settings = Settings.from(config);
    Journal.refuseLevelDbInACluster(settings);
    ClientSecurity security;
    try {
      security = ClientSecurity.from(config);
    } catch (IllegalArgumentException e) {
      throw new StartException(e.getMessage());
    }
    Journal journal = Journal.prepare(config, settings);
    config = journal.config();
    try {
      ClusterTls.check(config);
    } catch (RuntimeException e) {
      throw new StartException("cannot use the cluster TLS files: " + rootMessage(e));
    }
    FileLock lock = lockDataPath(Path.of(settings.dataPath()));
    herald.broker.DiskSpace disk = diskSpace(config, settings);
    journal.check();
    ActorSystem<Void> system;
    try {
      system = ActorSystem.create(Behaviors.empty(), SYSTEM_NAME, config);
    } catch (RuntimeException e) {
      throw new StartException("cannot start cluster transport on " + settings.clusterHost() + ":"
          + settings.clusterPort() + ": " + rootMessage(e));
    }
    try {
      journal.formOrJoin(system);
      journal.startSharding(system);
      journal.touch(system);
      journal.watch(system);
      herald.stats.NodeMetrics metrics = new herald.stats.NodeMetrics(settings.advertisedHttp());
      system.getWhenTerminated().thenRun(metrics::close);
      system.scheduler().scheduleAtFixedRate(Duration.ofMillis(250), Duration.ofMillis(250), disk::measure, system.executionContext());
      io.micrometer.core.instrument.Gauge.builder("herald.disk.free.bytes", disk, herald.broker.DiskSpace::freeBytes)
          .description("usable bytes on the file system of --data-path").register(metrics.registry());
      io.micrometer.core.instrument.Gauge.builder("herald.disk.min.free.bytes", disk, herald.broker.DiskSpace::minFreeBytes)
          .description("--min-free-space in bytes: below it publishes are refused").register(metrics.registry());
      io.micrometer.core.instrument.Gauge.builder("herald.publishes.refused", disk, d -> d.low() ? 1 : 0)
          .description("1 while publishes are refused for lack of disk space, else 0").register(metrics.registry());
      journal.meters(metrics.registry());
      Health health = new Health(journal.repairReport(), disk::problem, journal.health()::problem);
      Publisher publisher = new Publisher(system, metrics.registry(), disk, () -> !journal.health().failing());
      TcpProducers producers = new TcpProducers();
      HttpApi api = new HttpApi(system, settings, publisher, metrics, health::status, producers);
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

  /**
   * The free-space guard on --data-path. LevelDB writes when it opens (DiskSpace.neededToOpen), so a
   * node that could not pay for that is refused with the figures instead of dying of SIGBUS.
   */
  private static herald.broker.DiskSpace diskSpace(Config config, Settings settings) throws StartException {
    Path data = Path.of(settings.dataPath());
    herald.broker.DiskSpace disk;
    try {
      // A cluster's journal is PostgreSQL's disk, not this one.
      disk = herald.broker.DiskSpace.of(data, settings.journal().equals("leveldb") ? config.getString("herald.min-free-space") : "0");
    } catch (IOException e) {
      throw new StartException("data path " + data + " is unusable: " + fileProblem(e));
    } catch (IllegalArgumentException e) {
      throw new StartException(e.getMessage());
    }
    if (!settings.journal().equals("leveldb")) return disk;
    Path journal = Path.of(config.getString("pekko.persistence.journal.leveldb.dir"));
    long needed;
    try {
      needed = herald.broker.DiskSpace.neededToOpen(journal, config.getBytes("pekko.persistence.journal.leveldb.write-buffer-size"));
    } catch (IOException e) {
      throw new StartException("journal " + journal + " is unusable: " + fileProblem(e));
    }
    if (disk.freeBytes() < needed) {
      throw new StartException("not enough free space to open the journal: " + disk.freeBytes() + " bytes free in "
          + data.toAbsolutePath() + ", LevelDB may write up to " + needed + " bytes while it opens (its log into a table, and a"
          + " compaction); free some space or give --data-path a larger disk");
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
      throw new StartException("data path " + dir + " is unusable: " + fileProblem(e));
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

  /** A file's exception in words (its message is only the path), else its root message. */
  private static String fileProblem(IOException e) {
    String phrase = herald.settings.FileProblem.of(e);
    return phrase != null ? phrase : rootMessage(e);
  }

  /** The actor system's name, part of every member's address. */
  static final String SYSTEM_NAME = "herald";

  /** A member's address as Pekko writes it (seed-nodes): what --join and --cluster-address name. */
  static String memberAddress(String host, int port) {
    return "pekko://" + SYSTEM_NAME + "@" + host + ":" + port;
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
