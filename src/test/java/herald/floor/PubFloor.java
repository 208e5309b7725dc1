package herald.floor;

import com.typesafe.config.Config;
import herald.node.Main;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.util.ByteString;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * The floor of Herald's mandated stack for {@code POST /pub}, by hand (not a test, not part of the
 * node): a bare pekko-http server on the node's own configuration (application.conf: http.conf's
 * server settings, persistence.conf's journal) answering {@code OK}, with one layer more per mode:
 *
 * <ul>
 *   <li>{@code bare}: the routing DSL takes the (strict) body and answers; no actor, no journal.
 *   <li>{@code hop}: plus one ask to an actor that answers at once.
 *   <li>{@code tell}: as {@code hop}, but a tell carrying a promise that the actor completes: no
 *       PromiseActorRef and no scheduler timer per request (Herald's publishes go this way; their
 *       deadlines are one sweep per topic, which the floor leaves out).
 *   <li>{@code persist}: plus one persist per request, of the body, through an EventSourcedBehavior
 *       on the node's LevelDB journal plugin (herald.node.LevelDbJournal, fsync on), answered after
 *       it; requests spread round-robin over {@code --entities} entities (each persists one request
 *       at a time, Pekko's stash holds the rest), so concurrent writes share LevelDB's group commit.
 *   <li>{@code batch}: one entity, and one persist of everything that waited while its last write
 *       was on the way (Herald's own shape for one topic: group commit in the entity). Prints its
 *       write cycle by part every 5 s (with {@link TimedWriters} as the journal's writer pool, which
 *       this program sets).
 *   <li>{@code tellbatch}: {@code batch} with {@code tell}'s promise instead of the ask into it.
 *   <li>{@code consume}: {@code tellbatch}, and each write handed on to a channel that NSQ TCP
 *       consumers read ({@link ConsumeFloor}); {@code /topic/...} and {@code /channel/...} are
 *       answered without a write, {@code /channel/create} starts the channel.
 * </ul>
 *
 * Every POST path is answered the same way (warm-ups may use /mpub), and GET /ping (herald bench asks it). Prints "listening on
 * http://HOST:PORT" as the node does, so deploy/bench-vs-nsqd.sh can run it beside nsqd and Herald:
 *
 * <pre>java -Xmx1g -cp target/herald.jar:target/test-classes herald.floor.PubFloor MODE [--entities 64] [--data-path DIR]</pre>
 */
public final class PubFloor extends AllDirectives {
  private static final Duration ASK_TIMEOUT = Duration.ofSeconds(10);

  /** A request: answered once done, to {@code replyTo} (an ask) or by completing {@code promise} (a tell). */
  record Publish(ByteString body, ActorRef<Done> replyTo, CompletableFuture<Done> promise) {
    void done() {
      if (replyTo != null) replyTo.tell(Done.INSTANCE);
      else promise.complete(Done.INSTANCE);
    }
  }

  /** Several asks that waited, as one command of the batch entity; {@code gatherer} hears Done after. */
  record Batch(List<Publish> publishes, ActorRef<Done> gatherer) {}

  enum Done { INSTANCE }

  private final ActorSystem<?> system;
  private final Function<ByteString, CompletionStage<Done>> work;
  private final Runnable channelCreated;

  private PubFloor(ActorSystem<?> system, Function<ByteString, CompletionStage<Done>> work, Runnable channelCreated) {
    this.system = system;
    this.work = work;
    this.channelCreated = channelCreated;
  }

  public static void main(String[] args) throws Exception {
    String mode = args.length > 0 ? args[0] : "bare";
    int entities = 64;
    Path data = null;
    for (int i = 1; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--entities" -> entities = Integer.parseInt(args[i + 1]);
        case "--data-path" -> data = Path.of(args[i + 1]);
        // bench-vs-nsqd.sh passes the node's flags; the floor listens where the OS says.
        case "--http-address", "--tcp-address" -> { }
        default -> throw new IllegalArgumentException("unknown flag " + args[i]);
      }
    }
    if (data == null) data = Files.createTempDirectory("pubfloor");
    // The node's configuration as the node loads it (Main.load), without the cluster: one process.
    Config config = Main.load(Map.of(
        "herald.data-path", data.toString(),
        "pekko.actor.provider", "local",
        "pekko.persistence.journal.leveldb.writers.executor", TimedWriters.class.getName()));
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "floor", config);
    ConsumeFloor consume = mode.equals("consume") ? ConsumeFloor.start(system) : null;
    Function<ByteString, CompletionStage<Done>> work = switch (mode) {
      case "bare" -> body -> CompletableFuture.completedFuture(Done.INSTANCE);
      case "hop" -> asking(system, List.of(system.systemActorOf(answering(), "answer", Props.empty())));
      case "tell" -> telling(system.systemActorOf(answering(), "answer", Props.empty()));
      case "persist" -> {
        List<ActorRef<Publish>> refs = new ArrayList<>();
        for (int i = 0; i < entities; i++) {
          refs.add(system.systemActorOf(Persisting.create("floor-" + i), "entity-" + i, Props.empty()));
        }
        yield asking(system, refs);
      }
      case "batch" -> {
        ActorRef<Batch> entity = system.systemActorOf(Persisting.batches("floor-batch", null), "entity", Props.empty());
        yield asking(system, List.of(system.systemActorOf(gathering(entity), "gather", Props.empty())));
      }
      case "tellbatch", "consume" -> {
        ActorRef<Batch> entity = system.systemActorOf(
            Persisting.batches("floor-batch", mode.equals("consume") ? consume.written() : null), "entity", Props.empty());
        yield telling(system.systemActorOf(gathering(entity), "gather", Props.empty()));
      }
      default -> throw new IllegalArgumentException("mode: bare, hop, tell, persist, batch, tellbatch or consume, not " + mode);
    };
    var binding = Http.get(system).newServerAt("127.0.0.1", 0)
        .bind(new PubFloor(system, work, consume == null ? () -> { } : consume.channelCreated()).routes())
        .toCompletableFuture().get();
    System.out.println("floor " + mode + " listening on http://127.0.0.1:" + binding.localAddress().getPort()
        + (consume == null ? "" : " and tcp://127.0.0.1:" + consume.tcpPort()) + " (journal " + data + ")");
  }

  /** The node's shape: the route takes the strict body, the work answers a future, the route completes with it. */
  private Route routes() {
    return concat(get(() -> path("ping", () -> complete("OK"))), post(() -> concat(
        pathPrefix("topic", () -> complete("OK")),
        pathPrefix("channel", () -> {
          channelCreated.run();
          return complete("OK");
        }),
        extractRequest(request -> completeWithFuture(answer(request))))));
  }

  private CompletionStage<HttpResponse> answer(HttpRequest request) {
    if (!(request.entity() instanceof HttpEntity.Strict strict)) {
      return request.entity().toStrict(5000, system).thenCompose(s -> answer(request.withEntity(s)));
    }
    return work.apply(strict.getData()).thenApply(done -> HttpResponse.create().withEntity(ContentTypes.TEXT_PLAIN_UTF8, "OK"));
  }

  /** Each request one ask, round-robin over {@code refs}. */
  private static Function<ByteString, CompletionStage<Done>> asking(ActorSystem<?> system, List<ActorRef<Publish>> refs) {
    AtomicInteger next = new AtomicInteger();
    return body -> {
      ActorRef<Publish> ref = refs.get(Math.floorMod(next.getAndIncrement(), refs.size()));
      // The ask's CompletionStage is Scala's, whose thenApply is thenApplyAsync on the common pool:
      // on 2 cores (common pool parallelism 1) the JDK starts a new thread for each. The answer is
      // mapped on the thread that completed the ask instead, as Herald's publishes are.
      return AskPattern.<Publish, Done>ask(ref, r -> new Publish(body, r, null), ASK_TIMEOUT, system.scheduler())
          .thenApplyAsync(done -> done, Runnable::run);
    };
  }

  /** Each request one tell with a promise that {@code ref} completes (no timeout: the floor's answers always come). */
  private static Function<ByteString, CompletionStage<Done>> telling(ActorRef<Publish> ref) {
    return body -> {
      CompletableFuture<Done> promise = new CompletableFuture<>();
      ref.tell(new Publish(body, null, promise));
      return promise;
    };
  }

  private static Behavior<Publish> answering() {
    return Behaviors.receiveMessage(p -> {
      p.done();
      return Behaviors.same();
    });
  }

  /**
   * Holds requests while the batch entity writes; sends all that waited as one Batch once it is done.
   * Prints every 5 s how many writes it made, of how many requests, and how long each took from
   * here to the entity's answer back here (the stack's own write cycle, as Herald's
   * herald_journal_write metric times a topic's), by part: here to the entity's command handler,
   * its persist to the journal's hand-off to a writer thread (Pekko Persistence's message to the
   * journal plugin actor), the wait for a writer thread, the writer's task (serialization, LevelDB's
   * write and fsync), the writer's end to the entity's thenRun (the plugin's future callbacks on the
   * dispatcher, its resequencer, the entity), and the entity's answer back here.
   */
  private static Behavior<Publish> gathering(ActorRef<Batch> entity) {
    return Behaviors.<Object>setup(ctx -> {
      List<Publish> waiting = new ArrayList<>();
      boolean[] writing = {false};
      long[] cycle = {0, 0, 0, 0, System.nanoTime()}; // writes, requests, nanos, this write's start, since
      long[] parts = new long[7]; // six parts' nanos, then how many writes they add up
      ActorRef<Done> written = ctx.getSelf().narrow();
      Runnable write = () -> {
        writing[0] = true;
        cycle[1] += waiting.size();
        cycle[3] = System.nanoTime();
        entity.tell(new Batch(List.copyOf(waiting), written));
        waiting.clear();
      };
      return Behaviors.receive(Object.class)
          .onMessage(Publish.class, p -> {
            waiting.add(p);
            if (!writing[0]) write.run();
            return Behaviors.same();
          })
          .onMessage(Done.class, d -> {
            long now = System.nanoTime();
            cycle[0]++;
            cycle[2] += now - cycle[3];
            TimedWriters.Times w = TimedWriters.last();
            // Parts only of writes whose writer task is this write's and had ended when the entity answered.
            if (w.submitted() >= cycle[3] && w.ended() > 0 && w.ended() <= Persisting.ran) {
              long[] at = {cycle[3], Persisting.received, w.submitted(), w.started(), w.ended(), Persisting.ran, now};
              for (int i = 0; i < parts.length - 1; i++) parts[i] += at[i + 1] - at[i];
              parts[parts.length - 1]++;
            }
            if (now - cycle[4] >= 5_000_000_000L) {
              System.out.printf("batch: %d writes/s, %.1f requests each, %.3f ms each: to the entity %.3f, to the writer pool %.3f,"
                      + " wait for a writer %.3f, write and fsync %.3f, back to the entity %.3f, back here %.3f%n",
                  cycle[0] * 1_000_000_000L / (now - cycle[4]), (double) cycle[1] / cycle[0], cycle[2] / 1e6 / cycle[0],
                  parts[0] / 1e6 / parts[6], parts[1] / 1e6 / parts[6], parts[2] / 1e6 / parts[6], parts[3] / 1e6 / parts[6],
                  parts[4] / 1e6 / parts[6], parts[5] / 1e6 / parts[6]);
              cycle[0] = cycle[1] = cycle[2] = 0;
              java.util.Arrays.fill(parts, 0);
              cycle[4] = now;
            }
            writing[0] = false;
            if (!waiting.isEmpty()) write.run();
            return Behaviors.same();
          })
          .build();
    }).narrow();
  }

  /** One entity of the floor: persists each body as one event (byte[]: Pekko's own serializer). */
  static final class Persisting extends EventSourcedBehavior<Object, byte[], Long> {
    // When the batch entity last took a Batch and last ran its thenRun (one entity, one write at a time).
    static volatile long received, ran;
    private final java.util.function.Consumer<List<Publish>> written;

    private Persisting(String id, java.util.function.Consumer<List<Publish>> written) {
      super(PersistenceId.ofUniqueId(id));
      this.written = written;
    }

    static Behavior<Publish> create(String id) {
      return new Persisting(id, null).narrow();
    }

    /** {@code written}, if not null, hears each batch once it is written, before its answers. */
    static Behavior<Batch> batches(String id, java.util.function.Consumer<List<Publish>> written) {
      return new Persisting(id, written).narrow();
    }

    @Override
    public Long emptyState() {
      return 0L;
    }

    @Override
    public CommandHandler<Object, byte[], Long> commandHandler() {
      return newCommandHandlerBuilder().forAnyState()
          .onCommand(Publish.class, p -> Effect().persist(p.body().toArray())
              .thenRun(s -> p.done()))
          .onCommand(Batch.class, b -> {
            received = System.nanoTime();
            List<byte[]> events = new ArrayList<>(b.publishes().size());
            for (Publish p : b.publishes()) events.add(p.body().toArray());
            return Effect().persist(events).thenRun(s -> {
              ran = System.nanoTime();
              if (written != null) written.accept(b.publishes());
              for (Publish p : b.publishes()) p.done();
              b.gatherer().tell(Done.INSTANCE);
            });
          })
          .build();
    }

    @Override
    public EventHandler<Long, byte[]> eventHandler() {
      return newEventHandlerBuilder().forAnyState().onAnyEvent((s, e) -> s + 1);
    }
  }
}
