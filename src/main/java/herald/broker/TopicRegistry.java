package herald.broker;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.BehaviorInterceptor;
import org.apache.pekko.actor.typed.TypedActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The cluster's topics and their channels, which of them run right now, and the figures of those
 * that stopped for idleness (passivated): /stats, /topics and /lookup read it, so nothing is started
 * to be counted, and an idle topic still shows its depth. Topics register themselves (and their
 * channels) on every change and every start, so a lost registration heals itself. Ephemeral names
 * are kept in memory only.
 *
 * <p>The state is changed in place: with 100,000 topics a copy per event would cost more than
 * everything else. Its maps are concurrent because a snapshot is serialized on another thread
 * while events go on changing them: such a snapshot may hold some changes of events after its
 * sequence number, which recovery replays again. That is harmless because every event sets a key
 * to a value (or removes it): replayed in order over any mix of them, the last one wins.
 */
public final class TopicRegistry
    extends EventSourcedBehavior<TopicRegistry.Command, TopicRegistry.Event, TopicRegistry.State> {

  public interface Command extends CborSerializable {}

  public record Register(String topic) implements Command {}

  public record Unregister(String topic) implements Command {}

  /** The topic's channels now (durable and ephemeral). */
  public record SetChannels(String topic, List<String> channels) implements Command {}

  /**
   * What a topic tells on every start and change, in one message: it exists ({@link Register}), these
   * are its channels ({@link SetChannels}) and it runs ({@link TopicRunning}); taken as those three in
   * that order (see WriteBatching).
   */
  public record Announce(String topic, List<String> channels, ActorRef<BrokerEntity.Command> ref) implements Command {
    TopicRunning running() {
      return new TopicRunning(topic, ref, true);
    }
  }

  /** A topic entity started ({@code running}) or stopped; the ref tells incarnations apart. */
  public record TopicRunning(String topic, ActorRef<BrokerEntity.Command> ref, boolean running) implements Command {}

  /** The same for a channel. */
  public record ChannelRunning(String topic, String channel, ActorRef<BrokerEntity.Command> ref, boolean running)
      implements Command {}

  /**
   * A topic ({@code channel} null) or channel stopped with these figures, which cannot change until
   * it runs again: anything that would change them (a publish, a consumer) starts it.
   */
  public record Park(String topic, String channel, Summary summary) implements Command {}

  /**
   * What /stats shows for a topic or channel that is not running; a channel's also has its
   * dead-letter figures (a topic's are 0, 0, null).
   */
  public record Summary(boolean paused, long depth, long inFlight, long deferred, long messageCount, long messageBytes,
      long deadLetterCount, int maxAttempts, String deadLetterTopic) implements CborSerializable {
    public Summary(boolean paused, long depth, long inFlight, long deferred, long messageCount, long messageBytes) {
      this(paused, depth, inFlight, deferred, messageCount, messageBytes, 0, 0, null);
    }
  }

  public record GetTopics(ActorRef<Topics> replyTo) implements Command {}

  /**
   * Writes (Register, Unregister, SetChannels, Park) gathered by {@link WriteBatching}, persisted in
   * one go; {@code done} hears {@link Applied} once they are. An Announce that came while nothing was
   * being written puts its TopicRunning first: taken at once, as if it had passed straight through.
   */
  record Apply(List<Command> writes, ActorRef<Command> done) implements Command {}

  /** An {@link Apply} is written (or changed nothing). */
  record Applied() implements Command {}

  /**
   * Sent by sharding when the registry's shard moves or its node stops: it stops once the writes
   * that reached it are written (PoisonPill would drop those still gathered by WriteBatching).
   */
  public enum Stop implements Command {
    INSTANCE
  }

  /** One topic's channels, for /lookup and /channels. */
  public record GetTopic(String topic, ActorRef<TopicChannels> replyTo) implements Command {}

  /** {@code channels} is null for a topic the registry does not know. */
  public record TopicChannels(List<String> channels) implements CborSerializable {}

  /**
   * Topic names, sorted; each with its channels; the topics whose entity runs; the channels whose
   * entity runs ({@code topic|channel}); the figures of stopped ones by topic, then by channel
   * ("" for the topic itself).
   */
  public record Topics(List<String> names, Map<String, List<String>> channels, Set<String> running,
      Set<String> runningChannels, Map<String, Map<String, Summary>> parked) implements CborSerializable {}

  public interface Event extends CborSerializable {}

  public record Registered(String topic) implements Event {}

  public record Unregistered(String topic) implements Event {}

  public record ChannelsChanged(String topic, List<String> channels) implements Event {}

  public record Parked(String topic, String channel, Summary summary) implements Event {}

  /** {@code parked}: by topic, then by channel ("" for the topic). Both are changed in place. */
  public record State(Map<String, List<String>> topics, Map<String, Map<String, Summary>> parked)
      implements CborSerializable {
    public State {
      topics = topics == null ? new ConcurrentSkipListMap<>() : new ConcurrentSkipListMap<>(topics);
      Map<String, Map<String, Summary>> figures = new ConcurrentHashMap<>();
      if (parked != null) parked.forEach((t, f) -> figures.put(t, new ConcurrentHashMap<>(f)));
      parked = figures;
    }
  }

  public static final EntityTypeKey<Command> KEY = EntityTypeKey.create(Command.class, "topic-registry");
  private static final String ID = "topics";

  public static void init(ActorSystem<?> system) {
    init(system, null);
  }

  /** {@code allocation}: where the registry's shard goes (null: Pekko's configured default). */
  public static void init(ActorSystem<?> system, org.apache.pekko.cluster.sharding.ShardCoordinator.ShardAllocationStrategy allocation) {
    var entity = Entity.of(KEY, ctx -> create()).withStopMessage(Stop.INSTANCE);
    ClusterSharding.get(system).init(allocation == null ? entity : entity.withAllocationStrategy(allocation));
  }

  public static void unregister(ActorSystem<?> system, String topic) {
    ref(system).tell(new Unregister(topic));
  }

  public static EntityRef<Command> ref(ActorSystem<?> system) {
    return ClusterSharding.get(system).entityRefFor(KEY, ID);
  }

  static Behavior<Command> create() {
    return Behaviors.intercept(WriteBatching::new, new TopicRegistry());
  }

  private final Map<String, List<String>> ephemeral = new TreeMap<>();
  // By entity id (BrokerEntity.topicId, channelId).
  private final Map<String, ActorRef<BrokerEntity.Command>> running = new HashMap<>();

  private TopicRegistry() {
    super(PersistenceId.ofUniqueId("registry|" + ID),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(5), 0.2));
  }

  @Override
  public State emptyState() {
    return new State(null, null);
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    // Its snapshot holds every topic: with many topics, a snapshot per few thousand events is plenty.
    return RetentionCriteria.snapshotEvery(5000, 2).withDeleteEventsOnSnapshot();
  }

  @Override
  public CommandHandler<Command, Event, State> commandHandler() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(Apply.class, this::onApply)
        .onCommand(Stop.class, (s, c) -> Effect().stop())
        .onCommand(TopicRunning.class, (s, c) -> running(BrokerEntity.topicId(c.topic()), c.ref(), c.running()))
        .onCommand(ChannelRunning.class, (s, c) -> running(BrokerEntity.channelId(c.topic(), c.channel()), c.ref(), c.running()))
        .onCommand(GetTopic.class, (s, c) -> {
          List<String> channels = s.topics().get(c.topic());
          c.replyTo().tell(new TopicChannels(channels != null ? channels : ephemeral.get(c.topic())));
          return Effect().none();
        })
        .onCommand(GetTopics.class, (s, c) -> {
          TreeMap<String, List<String>> all = new TreeMap<>(s.topics());
          all.putAll(ephemeral);
          Set<String> topics = new java.util.HashSet<>();
          Set<String> channels = new java.util.HashSet<>();
          for (String id : running.keySet()) {
            if (id.startsWith("t|")) topics.add(id.substring(2));
            else channels.add(id.substring(2));
          }
          Map<String, Map<String, Summary>> parked = new HashMap<>();
          s.parked().forEach((topic, figures) -> parked.put(topic, Map.copyOf(figures)));
          c.replyTo().tell(new Topics(List.copyOf(all.keySet()), all, topics, channels, parked));
          return Effect().none();
        })
        .build();
  }

  private Effect<Event, State> onApply(State s, Apply c) {
    Pending pending = new Pending(s);
    for (Command write : c.writes()) {
      if (write instanceof TopicRunning r) {
        running(BrokerEntity.topicId(r.topic()), r.ref(), r.running());
        continue;
      }
      Event e = eventFor(pending, write);
      if (e != null) pending.add(e);
    }
    var effect = pending.events.isEmpty() ? Effect().<Event, State>none() : Effect().persist(pending.events);
    return effect.thenRun(state -> c.done().tell(new Applied()));
  }

  /** The event a write makes, or null when it changes nothing (or only ephemeral names, kept in memory). */
  private Event eventFor(Pending s, Command write) {
    if (write instanceof Register c) {
      if (Names.isEphemeral(c.topic())) {
        ephemeral.putIfAbsent(c.topic(), List.of());
        return null;
      }
      return s.channels(c.topic()) != null ? null : new Registered(c.topic());
    }
    if (write instanceof Unregister c) {
      ephemeral.remove(c.topic());
      return s.channels(c.topic()) != null ? new Unregistered(c.topic()) : null;
    }
    if (write instanceof SetChannels c) {
      List<String> channels = List.copyOf(new TreeSet<>(c.channels()));
      if (ephemeral.containsKey(c.topic())) {
        ephemeral.put(c.topic(), channels);
        return null;
      }
      List<String> known = s.channels(c.topic());
      return known == null || channels.equals(known) ? null : new ChannelsChanged(c.topic(), channels);
    }
    if (write instanceof Park c) {
      List<String> known = s.channels(c.topic());
      boolean registered = known != null && (c.channel() == null || known.contains(c.channel()));
      Map<String, Summary> figures = s.state.parked().get(c.topic());
      String key = c.channel() == null ? "" : c.channel();
      if (!registered || (figures != null && c.summary().equals(figures.get(key)))) return null;
      return new Parked(c.topic(), c.channel(), c.summary());
    }
    throw new IllegalArgumentException("not a registry write: " + write);
  }

  /** The state as the events of a batch so far would leave it (topics and their channels only). */
  private static final class Pending {
    final State state;
    final List<Event> events = new ArrayList<>();
    private final Map<String, List<String>> changed = new HashMap<>();
    private final Set<String> removed = new java.util.HashSet<>();

    Pending(State state) {
      this.state = state;
    }

    /** The topic's channels, or null for a topic not registered. */
    List<String> channels(String topic) {
      if (removed.contains(topic)) return null;
      List<String> c = changed.get(topic);
      return c != null ? c : state.topics().get(topic);
    }

    void add(Event e) {
      events.add(e);
      if (e instanceof Registered r) {
        removed.remove(r.topic());
        changed.put(r.topic(), List.of());
      } else if (e instanceof Unregistered u) {
        changed.remove(u.topic());
        removed.add(u.topic());
      } else if (e instanceof ChannelsChanged cc) {
        changed.put(cc.topic(), cc.channels());
      }
    }
  }

  /**
   * Topics and channels tell the registry every start, stop and change, fire and forget. One journal
   * write (and fsync) each falls behind by minutes when thousands of topics are created or
   * passivate at once, /stats waits behind that queue, and whatever is still queued when the node is
   * killed is lost: a topic /stats never lists again until someone touches it (seen: 1,484 of 5,000
   * topics missing after a SIGKILL). So writes are group-committed: while one batch is being
   * written, the writes that arrive are gathered, and handed over as the next batch when it is done
   * (a fixed gathering time is not enough: when a write takes longer, batches pile up in the
   * entity's stash until it overflows, seen with 100,000 topics). A read waits for the writes that
   * arrived before it; running/stopped notices (memory only) pass straight through, in order. A
   * Stop waits for every write that came before it. An Announce is a Register and a SetChannels,
   * gathered, and a TopicRunning, passed straight through.
   */
  private static final class WriteBatching extends BehaviorInterceptor<Command, Command> {
    /** A batch not confirmed by then is taken as lost (the entity restarted): the next one goes. */
    private static final Duration CONFIRM_WITHIN = Duration.ofSeconds(10);

    /** Sent to itself CONFIRM_WITHIN after batch {@code batch} was handed over. */
    private record Overdue(long batch) implements Command {}

    /** A read that waited for gathered writes, re-sent to itself after them. */
    private record AfterWrites(Command read) implements Command {}

    private List<Command> gathered = new ArrayList<>();
    private final List<Command> waitingReads = new ArrayList<>();
    private boolean writing;
    private long batch;
    private boolean stopWhenWritten;

    WriteBatching() {
      super(Command.class);
    }

    @Override
    public Behavior<Command> aroundReceive(TypedActorContext<Command> context, Command msg, ReceiveTarget<Command> target) {
      if (msg instanceof Register || msg instanceof Unregister || msg instanceof SetChannels || msg instanceof Park) {
        gathered.add(msg);
        return writing ? Behaviors.same() : handOver(context, target);
      }
      if (msg instanceof Announce a) {
        gathered.add(new Register(a.topic()));
        gathered.add(new SetChannels(a.topic(), a.channels()));
        if (writing) return target.apply(context, a.running());
        // Nothing is being written, so nothing else was gathered: its notice goes first in the
        // batch that goes now (one receive hands the entity one message).
        gathered.add(0, a.running());
        return handOver(context, target);
      }
      if (msg instanceof Applied) return written(context, target);
      if (msg instanceof Stop && writing) {
        stopWhenWritten = true;
        return Behaviors.same();
      }
      if (msg instanceof Overdue o) {
        if (!writing || o.batch() != batch) return Behaviors.same();
        context.asJava().getLog().warn("the registry did not confirm a batch of writes within {}; going on", CONFIRM_WITHIN);
        return written(context, target);
      }
      if (msg instanceof AfterWrites a) return target.apply(context, a.read());
      if ((msg instanceof GetTopics || msg instanceof GetTopic) && !gathered.isEmpty()) {
        // It must see the writes that came before it: after the batch being written, the gathered ones.
        waitingReads.add(msg);
        return writing ? Behaviors.same() : handOver(context, target);
      }
      return target.apply(context, msg);
    }

    private Behavior<Command> written(TypedActorContext<Command> context, ReceiveTarget<Command> target) {
      writing = false;
      if (!gathered.isEmpty()) return handOver(context, target);
      return stopWhenWritten ? target.apply(context, Stop.INSTANCE) : Behaviors.same();
    }

    private Behavior<Command> handOver(TypedActorContext<Command> context, ReceiveTarget<Command> target) {
      var ctx = context.asJava();
      List<Command> writes = gathered;
      gathered = new ArrayList<>();
      writing = true;
      batch++;
      ctx.scheduleOnce(CONFIRM_WITHIN, ctx.getSelf(), new Overdue(batch));
      // The reads go behind the batch: the entity takes them after it is written.
      for (Command read : waitingReads) ctx.getSelf().tell(new AfterWrites(read));
      waitingReads.clear();
      return target.apply(context, new Apply(writes, ctx.getSelf()));
    }
  }

  private Effect<Event, State> running(String entityId, ActorRef<BrokerEntity.Command> ref, boolean isRunning) {
    if (isRunning) running.put(entityId, ref);
    else running.remove(entityId, ref);
    return Effect().none();
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(Registered.class, (s, e) -> {
          s.topics().put(e.topic(), List.of());
          return s;
        })
        .onEvent(Unregistered.class, (s, e) -> {
          s.topics().remove(e.topic());
          s.parked().remove(e.topic());
          return s;
        })
        .onEvent(ChannelsChanged.class, (s, e) -> {
          s.topics().put(e.topic(), e.channels());
          Map<String, Summary> figures = s.parked().get(e.topic());
          if (figures != null) figures.keySet().removeIf(k -> !k.isEmpty() && !e.channels().contains(k));
          return s;
        })
        .onEvent(Parked.class, (s, e) -> {
          s.parked().computeIfAbsent(e.topic(), t -> new ConcurrentHashMap<>()).put(e.channel() == null ? "" : e.channel(), e.summary());
          return s;
        })
        .build();
  }
}
