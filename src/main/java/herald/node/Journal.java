package herald.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import herald.broker.BrokerEntity;
import herald.broker.TopicRegistry;
import herald.cluster.ClusterLock;
import herald.cluster.ClusterTls;
import herald.cluster.FitNodesFirst;
import herald.cluster.JournalCompatibility;
import herald.cluster.JournalHealth;
import herald.cluster.JournalIdentity;
import herald.cluster.JournalWatch;
import herald.cluster.PostgresSchema;
import herald.settings.Settings;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import static herald.node.Node.rootMessage;

/**
 * The node's journal, everything about it in one place: LevelDB (one node, embedded) or PostgreSQL
 * (shared by a cluster). Which config it loads (postgres.conf), what is prepared and checked before
 * the actor system starts (tables and the journal's identity for the join check; a LevelDB journal
 * read whole), the first touch that fails a start on a broken journal, and afterwards its health:
 * JournalWatch, and sharding over the nodes that can use it (FitNodesFirst). Channels read it back
 * through herald.broker.Journals.
 */
final class Journal {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Journal.class);

  private final Config config;
  private final Settings settings;
  private final JournalHealth health = new JournalHealth();
  private String repairReport;
  /** PostgreSQL: one cluster per journal (null on LevelDB). */
  private final ClusterLock lock;
  /** The first seed in --join, or a node without --join: the node that may form the cluster. */
  private final boolean mayForm;
  /** It may form one, but a cluster already runs on this journal: it must join that one. */
  private volatile boolean clusterRunsElsewhere;

  private Journal(Config config, Settings settings) {
    this.config = config;
    this.settings = settings;
    this.lock = null;
    this.mayForm = !settings.clustered();
  }

  private Journal(Config config, Settings settings, ClusterLock lock, boolean mayForm) {
    this.config = config;
    this.settings = settings;
    this.lock = lock;
    this.mayForm = mayForm;
  }

  private boolean postgres() {
    return settings.journal().equals("postgres");
  }

  /** The flags over (postgres.conf for --journal postgres) over application.conf. */
  static Config load(Config flags, Config application) {
    Config chosen = flags.withFallback(application);
    if (chosen.hasPath("herald.journal") && chosen.getString("herald.journal").equals("postgres")) {
      chosen = flags.withFallback(ConfigFactory.parseResources("postgres.conf")).withFallback(application);
    }
    return chosen;
  }

  static void refuseLevelDbInACluster(Settings settings) throws Node.StartException {
    if (settings.clustered() && settings.journal().equals("leveldb")) {
      throw new Node.StartException("--join needs --journal postgres: in a cluster topics and channels move between "
          + "nodes, and a node's own LevelDB journal would leave their messages behind");
    }
  }

  /** On PostgreSQL: the tables made if missing, and the journal's identity added to the config, for the join check. */
  static Journal prepare(Config config, Settings settings) throws Node.StartException {
    if (!settings.journal().equals("postgres")) return new Journal(config, settings);
    String url = config.getString("herald.postgres.url");
    String user = config.getString("herald.postgres.user");
    String password = config.getString("herald.postgres.password");
    try {
      Config prepared = PostgresSchema.ensure(url, user, password).addTo(config);
      // Pekko would let the first seed form a cluster when no other seed answers in time; here
      // the node forms one only while no cluster runs on the journal (formOrJoin), so Pekko only joins.
      List<String> seeds = new ArrayList<>(prepared.getStringList("pekko.cluster.seed-nodes"));
      String self = Node.memberAddress(settings.clusterHost(), settings.clusterPort());
      boolean mayForm = seeds.isEmpty() || seeds.get(0).equals(self);
      seeds.remove(self);
      prepared = prepared.withValue("pekko.cluster.seed-nodes", ConfigValueFactory.fromIterable(seeds));
      return new Journal(prepared, settings, new ClusterLock(url, user, password), mayForm);
    } catch (Exception e) {
      throw new Node.StartException("cannot use PostgreSQL at " + url + ": " + rootMessage(e));
    }
  }

  /** The node's config, with what preparing the journal added. */
  Config config() {
    return config;
  }

  /**
   * Reads the LevelDB journal whole before Pekko opens it (JournalCheck): damage stops the start
   * with one line, unless herald.journal-repair; a repair that lost messages is reported in the log,
   * in a file next to the journal and, for this run, in /stats health.
   */
  void check() throws Node.StartException {
    if (postgres()) return;
    Path journal = Path.of(config.getString("pekko.persistence.journal.leveldb.dir"));
    Path snapshots = Path.of(config.getString("pekko.persistence.snapshot-store.local.dir"));
    JournalCheck.Outcome outcome = JournalCheck.run(journal, snapshots, config.getBoolean("herald.journal-repair"));
    if (!outcome.repaired()) return;
    String report = "journal repaired at " + java.time.Instant.now() + " (" + String.join("; ", outcome.causes())
        + "; the damaged journal is kept beside it as " + journal.getFileName() + ".damaged-*): " + outcome.lossSummary();
    Path file = journal.resolveSibling("journal-repair-" + System.currentTimeMillis() + ".txt");
    try {
      Files.writeString(file, report + "\n");
    } catch (IOException e) {
      log.error("cannot write {}: {}", file, e.toString());
    }
    repairReport = report;
  }

  /** What a repair at this start lost (for /stats health), or null. */
  String repairReport() {
    return repairReport;
  }

  /**
   * Joins the cluster. On LevelDB a node without --join is its own cluster. On PostgreSQL Pekko
   * joins the other seeds in --join, and the node that may form the cluster (the first seed, or a
   * node without --join) forms it, but only while no cluster runs on the journal (ClusterLock),
   * trying every second until it joins one way or the other. Once up, every member holds the lock.
   */
  void formOrJoin(ActorSystem<?> system) {
    Cluster cluster = Cluster.get(system);
    if (lock == null) {
      if (mayForm) cluster.manager().tell(Join.create(cluster.selfMember().address()));
      return;
    }
    ScheduledExecutorService jdbc = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "herald-cluster-lock");
      t.setDaemon(true);
      return t;
    });
    system.getWhenTerminated().thenRun(() -> jdbc.execute(() -> {
      lock.close();
      jdbc.shutdown();
    }));
    if (mayForm) jdbc.execute(() -> formUnlessOneRuns(cluster, jdbc));
    org.apache.pekko.cluster.Cluster.get(Adapter.toClassic(system)).registerOnMemberUp(() ->
        jdbc.scheduleWithFixedDelay(() -> {
          try {
            lock.holdAsMember();
          } catch (Exception e) {
            log.warn("cannot hold the journal's cluster lock (tried again in 2 s): {}", rootMessage(e));
          }
        }, 0, 2, TimeUnit.SECONDS));
  }

  /** Forms the cluster if none runs on the journal, else asks again in a second, until this node is in one. */
  private void formUnlessOneRuns(Cluster cluster, ScheduledExecutorService jdbc) {
    if (cluster.selfMember().status() != MemberStatus.removed()) return;   // joined through a seed
    try {
      if (lock.tryToForm()) {
        log.info("no cluster runs on this journal: this node forms one");
        cluster.manager().tell(Join.create(cluster.selfMember().address()));
        return;
      }
      if (!clusterRunsElsewhere) {
        log.info("a cluster runs on this journal: joining it through {}", config.getStringList("pekko.cluster.seed-nodes"));
      }
      clusterRunsElsewhere = true;
    } catch (Exception e) {
      log.warn("cannot ask PostgreSQL whether a cluster runs on this journal (asked again in 1 s): {}", rootMessage(e));
    }
    jdbc.schedule(() -> formUnlessOneRuns(cluster, jdbc), 1, TimeUnit.SECONDS);
  }

  /** Topics and channels, and the registry, sharded over the nodes that can use the journal. */
  void startSharding(ActorSystem<?> system) {
    BrokerEntity.init(system, settings, config.getInt("herald.number-of-shards"), fitNodesFirst());
    TopicRegistry.init(system, fitNodesFirst());
    ShutdownOrder.brokerBeforeRegistry(system);
  }

  /** Pekko's least-shard allocation over the nodes that can use the journal (FitNodesFirst). */
  private FitNodesFirst fitNodesFirst() {
    Config least = config.getConfig("pekko.cluster.sharding.least-shard-allocation-strategy");
    return new FitNodesFirst(health, least.getInt("rebalance-absolute-limit"), least.getDouble("rebalance-relative-limit"));
  }

  /**
   * Touches the journal once (through the registry, wherever it lives) so a broken journal, or a
   * cluster that cannot be joined, fails the start rather than the first publish.
   */
  void touch(ActorSystem<?> system) throws Node.StartException {
    try {
      var answered = TopicRegistry.ref(system).ask(TopicRegistry.GetTopics::new, startTimeout()).toCompletableFuture();
      // A node the cluster refuses shuts itself down: stop waiting then.
      CompletableFuture.anyOf(answered, system.getWhenTerminated().toCompletableFuture())
          .get(startTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
      answered.getNow(null);
      if (!answered.isDone()) throw new IllegalStateException("the node stopped while starting");
    } catch (Exception e) {
      var reason = CoordinatedShutdown.get(system).getShutdownReason();
      if (reason.isPresent() && reason.get().equals(CoordinatedShutdown.incompatibleConfigurationDetectedReason())) {
        // Only a node with --join asks, so this node is on PostgreSQL; the seed logged the cluster's side.
        throw new Node.StartException("the cluster refused this node: " + JournalCompatibility.REFUSAL
            + " (this node uses " + JournalIdentity.of(system.settings().config()) + ")");
      }
      if (reason.isPresent() && reason.get().equals(CoordinatedShutdown.clusterJoinUnsuccessfulReason())) {
        throw new Node.StartException("could not join the cluster at " + system.settings().config().getStringList("pekko.cluster.seed-nodes"));
      }
      if (clusterRunsElsewhere && Cluster.get(system).selfMember().status() != MemberStatus.up()) {
        throw new Node.StartException("a cluster runs on this journal, and this node may not form another one, but "
            + "no seed in --join answered within " + startTimeout().toSeconds() + " s (--start-timeout): list the "
            + "--cluster-address of running members in --join (see the log)");
      }
      if (settings.clustered() && Cluster.get(system).selfMember().status() != MemberStatus.up()) {
        throw new Node.StartException("could not join the cluster at " + settings.join() + " within "
            + startTimeout().toSeconds() + " s (--start-timeout): are its nodes up, "
            + (ClusterTls.enabled(system.settings().config())
                ? "on TLS, and is this node's --cluster-tls certificate signed by their CA? (see the log)"
                : "and on plain TCP (no --cluster-tls)? (see the log)"));
      }
      throw new Node.StartException("the journal did not start: " + rootMessage(e));
    }
  }

  private Duration startTimeout() {
    return config.getDuration("herald.start-timeout");
  }

  /** From now on JournalWatch probes it; on PostgreSQL a node that cannot use it hands its shards away. */
  void watch(ActorSystem<?> system) {
    system.systemActorOf(JournalWatch.create(health, config.getDuration("herald.journal-unfit-after"), postgres()),
        "journal-watch", Props.empty());
  }

  JournalHealth health() {
    return health;
  }

  void meters(MeterRegistry registry) {
    Gauge.builder("herald.journal.failing", health, j -> j.failing() ? 1 : 0)
        .description("1 while this node's journal does not answer (or fails) its probe, else 0").register(registry);
    Gauge.builder("herald.journal.unfit", health, j -> j.unfit() ? 1 : 0)
        .description("1 while this node hands its topics to nodes that can use the journal (--journal-unfit-after), else 0")
        .register(registry);
  }
}
