package herald.node;

import com.typesafe.config.Config;
import herald.broker.BrokerEntity;
import herald.broker.Publisher;
import herald.broker.TopicRegistry;
import herald.cluster.JournalCompatibility;
import herald.cluster.JournalIdentity;
import herald.cluster.PostgresSchema;
import herald.http.HttpApi;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.server.Route;

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
  private final Settings settings;

  private Node(ActorSystem<Void> system, ServerBinding binding, Optional<ServerBinding> https, Settings settings) {
    this.system = system;
    this.binding = binding;
    this.https = https;
    this.settings = settings;
  }

  public static Node start(Config config) throws StartException {
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
    FileLock lock = lockDataPath(Path.of(settings.dataPath()));
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
      BrokerEntity.init(system, settings, config.getInt("herald.number-of-shards"));
      TopicRegistry.init(system);
      checkJournal(system);
      herald.stats.NodeMetrics metrics = new herald.stats.NodeMetrics(settings.advertisedHttp());
      system.getWhenTerminated().thenRun(metrics::close);
      HttpApi api = new HttpApi(system, settings, new Publisher(system, metrics.registry()), metrics);
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
          .bind(security.guard(false, httpsPort).wrap(routes))
          .toCompletableFuture()
          .get(10, TimeUnit.SECONDS)
          .addToCoordinatedShutdown(Duration.ofSeconds(5), system);
      system.getWhenTerminated().thenRun(() -> release(lock));
      security.openWarning("http://" + settings.httpHost() + ":" + binding.localAddress().getPort()).ifPresent(log::warn);
      return new Node(system, binding, https, settings);
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
  private static void checkJournal(ActorSystem<?> system) throws StartException {
    try {
      var answered = TopicRegistry.ref(system).ask(TopicRegistry.GetTopics::new, Duration.ofSeconds(60)).toCompletableFuture();
      // A node the cluster refuses shuts itself down: stop waiting then.
      CompletableFuture.anyOf(answered, system.getWhenTerminated().toCompletableFuture()).get(61, TimeUnit.SECONDS);
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
      throw new StartException("the journal did not start: " + rootMessage(e));
    }
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

  public String clusterAddress() {
    return Cluster.get(system).selfMember().address().toString();
  }

  public Settings settings() {
    return settings;
  }
}
