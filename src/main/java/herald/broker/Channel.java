package herald.broker;

import herald.node.Settings;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.util.ByteString;
import org.HdrHistogram.Histogram;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A channel is a cursor over its topic's log, shared by its consumers. It persists only its
 * progress: the cursor (every offset below is done), the FINed offsets above it, paused, and the
 * due times of REQ-deferred messages. Bodies live in the topic's journal; the ready buffer, the
 * in-flight table and the consumers live in memory. FINs are applied at once and persisted in
 * batches: a crash in that window re-delivers, never loses.
 */
public final class Channel extends EventSourcedBehavior<Channel.Command, Channel.Event, Channel.State> {

  // ---- commands -------------------------------------------------------------------------------
  public interface Command extends BrokerEntity.Command {}

  /** New messages, pushed by the topic right after it wrote them; seqNr is that journal write. */
  public record Push(long seqNr, Topic.MessagesAppended batch) implements Command {}

  /** The topic's answer to Attach (and its greeting on start): whether this channel exists. */
  public record Attached(
      boolean member, Topic.Start start, long topicNextOffset, long topicLastSeqNr,
      boolean topicPaused, List<Push> held) implements Command {}

  public record TopicPaused(boolean paused) implements Command {}

  public record EmptyUpTo(long offset, long seqNr, ActorRef<StatusReply<Done>> replyTo) implements Command {}

  public record SetPaused(boolean paused, ActorRef<StatusReply<Done>> replyTo) implements Command {}

  /** replyTo may be null when nobody waits. */
  public record Delete(ActorRef<StatusReply<Done>> replyTo) implements Command {}

  public record Subscribe(
      ActorRef<ConsumerProtocol> consumer, String clientId, String remoteAddress, long msgTimeoutMs, ClientInfo client)
      implements Command {
    public Subscribe(ActorRef<ConsumerProtocol> consumer, String clientId, String remoteAddress, long msgTimeoutMs) {
      this(consumer, clientId, remoteAddress, msgTimeoutMs, ClientInfo.webSocket(remoteAddress));
    }
  }

  public record Ready(ActorRef<ConsumerProtocol> consumer, long count) implements Command {}

  /** FINs of one consumer, in the order it sent them. */
  public record Finish(ActorRef<ConsumerProtocol> consumer, long[] offsets) implements Command {}

  public record Requeue(ActorRef<ConsumerProtocol> consumer, long offset, long delayMs) implements Command {}

  public record Touch(ActorRef<ConsumerProtocol> consumer, long offset) implements Command {}

  public record Unsubscribe(ActorRef<ConsumerProtocol> consumer) implements Command {}

  public record GetStats(ActorRef<ChannelStats> replyTo) implements Command {}

  public record ClientStats(
      String clientId, String remoteAddress, long readyCount, long inFlightCount, long messageCount,
      long finishCount, long requeueCount, long timeoutCount, long connectTs, ClientInfo client) implements CborSerializable {
    public ClientStats(String clientId, String remoteAddress, long readyCount, long inFlightCount, long messageCount,
        long finishCount, long requeueCount, long timeoutCount, long connectTs) {
      this(clientId, remoteAddress, readyCount, inFlightCount, messageCount, finishCount, requeueCount, timeoutCount,
          connectTs, ClientInfo.webSocket(remoteAddress));
    }
  }

  public record ChannelStats(
      String topic, String name, boolean exists, boolean paused, long depth, long inFlightCount,
      long deferredCount, long messageCount, long requeueCount, long timeoutCount,
      List<ClientStats> clients, String node, E2eLatency e2eProcessingLatency) implements CborSerializable {}

  /**
   * nsqd's e2e_processing_latency: FIN time minus publish time, in nanoseconds (millisecond
   * precision: timestamps are Unix ms), over every FIN since the channel started on its node.
   * The last percentile is the maximum (quantile 1.0); none while count is 0.
   */
  public record E2eLatency(long count, List<Percentile> percentiles) implements CborSerializable {
    public static final E2eLatency NONE = new E2eLatency(0, List.of());
  }

  public record Percentile(double quantile, long value) implements CborSerializable {}

  static final double[] E2E_QUANTILES = {0.5, 0.95, 0.99, 0.999};

  /** Runs only while something is timed: messages in flight or deferred, progress to write, a read to retry. */
  private enum Tick implements Command { INSTANCE }

  private enum IdleCheck implements Command { INSTANCE }

  private record ReadDone(long generation, List<EventEnvelope> events, Throwable failure, boolean filled)
      implements Command {}

  // ---- events ---------------------------------------------------------------------------------
  public interface Event extends CborSerializable {}

  public record Created(long startOffset, long startSeqNr) implements Event {}

  /** The whole durable progress; the latest one replaces all before it. */
  public record Progressed(long cursor, long cursorSeqNr, long[] finished, List<Deferral> deferred)
      implements Event {}

  public record PausedChanged(boolean paused) implements Event {}

  public record Deleted() implements Event {}

  public record Deferral(long offset, long seqNr, long due) implements CborSerializable {}

  // ---- state ----------------------------------------------------------------------------------
  public record State(
      boolean exists, boolean paused, long startOffset, long cursor, long cursorSeqNr,
      long[] finished, List<Deferral> deferred) implements CborSerializable {

    static State initial() {
      return new State(false, false, 0, 0, 1, new long[0], List.of());
    }
  }

  // ---- runtime (memory only) ------------------------------------------------------------------
  private static final class Msg {
    final long offset;
    final long seqNr;
    final long timestamp;
    final ByteString body;
    int attempts;
    long deliverAt;
    boolean requeueDeferred;

    Msg(long offset, long seqNr, long timestamp, ByteString body, long deliverAt) {
      this.offset = offset;
      this.seqNr = seqNr;
      this.timestamp = timestamp;
      this.body = body;
      this.deliverAt = deliverAt;
    }
  }

  private static final class Consumer {
    final ActorRef<ConsumerProtocol> ref;
    final String clientId;
    final String remoteAddress;
    final ClientInfo client;
    final long msgTimeoutMs;
    final long connectTs = System.currentTimeMillis();
    long ready;
    long inFlight;
    long messageCount;
    long finishCount;
    long requeueCount;
    long timeoutCount;

    Consumer(ActorRef<ConsumerProtocol> ref, String clientId, String remoteAddress, ClientInfo client, long msgTimeoutMs) {
      this.ref = ref;
      this.clientId = clientId;
      this.remoteAddress = remoteAddress;
      this.client = client;
      this.msgTimeoutMs = msgTimeoutMs;
    }
  }

  private static final class InFlight {
    final Msg msg;
    final Consumer consumer;
    final long deliveredAt;
    long deadline;

    InFlight(Msg msg, Consumer consumer, long deliveredAt, long deadline) {
      this.msg = msg;
      this.consumer = consumer;
      this.deliveredAt = deliveredAt;
      this.deadline = deadline;
    }
  }

  private static final Duration TICK = Duration.ofMillis(100);

  public static Behavior<Command> create(String topic, String name, Settings settings) {
    return create(topic, name, settings, null);
  }

  /** {@code shard}: where to ask to be stopped when idle; null: never. */
  public static Behavior<Command> create(
      String topic, String name, Settings settings, ActorRef<ClusterSharding.ShardCommand> shard) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new Channel(ctx, timers, topic, name, settings, shard)));
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final Idleness idleness;
  private final String topic;
  private final String name;
  private final Settings settings;
  private final boolean topicEphemeral;
  private final boolean ephemeral;

  private final ArrayDeque<Msg> ready = new ArrayDeque<>();
  private final Map<Long, InFlight> inFlight = new HashMap<>();
  private final PriorityQueue<Msg> deferred = new PriorityQueue<>((a, b) -> Long.compare(a.deliverAt, b.deliverAt));
  private final Map<ActorRef<ConsumerProtocol>, Consumer> consumers = new LinkedHashMap<>();
  private Iterator<Consumer> roundRobin = List.<Consumer>of().iterator();
  private Ranges finished = new Ranges();
  private Map<Long, Deferral> recoveredDeferrals = new HashMap<>();
  private long cursor;
  private long readOffset;      // the next offset not yet taken from the topic
  private long readSeqNr = 1;   // the next topic journal write to read
  private long maxPushedSeqNr;  // reads must reach past this before pushes can be taken live
  // Pushes that arrive while a read is running; spliced after it when they follow on, so that a
  // channel behind a busy topic goes live again instead of racing every new write.
  private final ArrayDeque<Push> pending = new ArrayDeque<>();
  private long pendingCount;
  private long topicNextOffset;
  private boolean attached;
  private boolean live;
  private boolean reading;
  private boolean readOnTick;
  private long reportedSeqNr;   // the last position told to the topic
  private long readGeneration;
  private boolean topicPaused;
  private boolean dirty;
  private long requeueCount;
  private long timeoutCount;
  private Histogram e2eLatency; // FIN - publish time in ms; made on the first FIN

  private Channel(ActorContext<Command> ctx, TimerScheduler<Command> timers, String topic, String name, Settings settings,
      ActorRef<ClusterSharding.ShardCommand> shard) {
    super(PersistenceId.ofUniqueId(BrokerEntity.channelId(topic, name)),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(5), 0.2));
    this.ctx = ctx;
    this.timers = timers;
    this.idleness = new Idleness(shard, ctx.getSystem());
    this.topic = topic;
    this.name = name;
    this.settings = settings;
    this.topicEphemeral = Names.isEphemeral(topic);
    this.ephemeral = topicEphemeral || Names.isEphemeral(name);
  }

  @Override
  public State emptyState() {
    return State.initial();
  }

  @Override
  public String journalPluginId() {
    return Journals.journal(ephemeral);
  }

  @Override
  public String snapshotPluginId() {
    return Journals.snapshots(ephemeral);
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    // Every Progressed replaces the ones before it, so old events can go with each snapshot.
    return ephemeral ? RetentionCriteria.disabled() : RetentionCriteria.snapshotEvery(100, 2).withDeleteEventsOnSnapshot();
  }

  @Override
  public SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), state -> {
          resetRuntime(state.cursor(), state.cursorSeqNr(), state.finished());
          for (Deferral d : state.deferred()) recoveredDeferrals.put(d.offset(), d);
          topicRef().tell(new Topic.Attach(name));
          announce(true);
          // An ephemeral channel lives in memory only: it never stops for idleness.
          if (idleness.enabled() && !ephemeral) timers.startSingleTimer(IdleCheck.INSTANCE, idleness.nextCheck());
        })
        .onSignal(PostStop.instance(), state -> announce(false))
        .build();
  }

  private void announce(boolean running) {
    TopicRegistry.ref(ctx.getSystem()).tell(
        new TopicRegistry.ChannelRunning(topic, name, ctx.getSelf().<BrokerEntity.Command>unsafeUpcast(), running));
  }

  private void resetRuntime(long cursor, long seqNr, long[] finishedRanges) {
    ready.clear();
    deferred.clear();
    for (InFlight f : inFlight.values()) f.consumer.inFlight--;
    inFlight.clear();
    finished = Ranges.of(finishedRanges);
    recoveredDeferrals = new HashMap<>();
    this.cursor = cursor;
    this.readOffset = cursor;
    this.readSeqNr = seqNr;
    this.live = false;
    this.readGeneration++;
    this.reading = false;
    this.readOnTick = false;
    clearPending();
  }

  private void clearPending() {
    pending.clear();
    pendingCount = 0;
  }

  // ---- commands -------------------------------------------------------------------------------
  @Override
  public CommandHandler<Command, Event, State> commandHandler() {
    CommandHandler<Command, Event, State> handler = commands();
    return (state, command) -> {
      if (!(command instanceof Tick || command instanceof GetStats || command instanceof IdleCheck)) idleness.active();
      return handler.apply(state, command);
    };
  }

  private CommandHandler<Command, Event, State> commands() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(Push.class, this::onPush)
        .onCommand(Attached.class, this::onAttached)
        .onCommand(ReadDone.class, this::onReadDone)
        .onCommand(Tick.class, this::onTick)
        .onCommand(Subscribe.class, this::onSubscribe)
        .onCommand(Ready.class, this::onReady)
        .onCommand(Finish.class, this::onFinish)
        .onCommand(Requeue.class, this::onRequeue)
        .onCommand(Touch.class, this::onTouch)
        .onCommand(Unsubscribe.class, (s, c) -> removeConsumer(s, c.consumer()))
        .onCommand(TopicPaused.class, (s, c) -> {
          topicPaused = c.paused();
          deliver(s);
          return Effect().none();
        })
        .onCommand(SetPaused.class, (s, c) -> Effect().persist(new PausedChanged(c.paused()))
            .thenRun(this::deliver)
            .thenReply(c.replyTo(), x -> StatusReply.ack()))
        .onCommand(EmptyUpTo.class, this::onEmpty)
        .onCommand(Delete.class, this::onDelete)
        .onCommand(GetStats.class, this::onGetStats)
        .onCommand(IdleCheck.class, this::onIdleCheck)
        .onCommand(BrokerEntity.Stop.class, (s, c) -> {
          if (s.exists() && !ephemeral) {
            TopicRegistry.ref(ctx.getSystem()).tell(new TopicRegistry.Park(topic, name, new TopicRegistry.Summary(
                s.paused(), depth(), inFlight.size(), deferred.size(), messageCount(s), 0)));
          }
          return dirty ? Effect().persist(progress()).thenStop() : Effect().stop();
        })
        .build();
  }

  /**
   * Stops once idle long enough: no consumer, nothing in flight or deferred, no progress to write,
   * no read running. Messages waiting in the ready buffer do not keep it: they are its depth, and
   * the topic's journal has them.
   */
  private Effect<Event, State> onIdleCheck(State state, IdleCheck check) {
    boolean idle = consumers.isEmpty() && inFlight.isEmpty() && deferred.isEmpty() && !dirty && !reading;
    if (idle && idleness.longEnough()) {
      idleness.passivate(ctx.getSelf());
      return Effect().none();
    }
    // Said again on every check: a registry that moved to another node learns it this way.
    announce(true);
    timers.startSingleTimer(IdleCheck.INSTANCE, idleness.nextCheck());
    return Effect().none();
  }

  private boolean needsTick() {
    return !inFlight.isEmpty() || !deferred.isEmpty() || dirty || readOnTick;
  }

  private void tickWhileNeeded() {
    if (needsTick()) {
      if (!timers.isTimerActive(Tick.INSTANCE)) timers.startTimerAtFixedRate(Tick.INSTANCE, TICK);
    } else {
      timers.cancel(Tick.INSTANCE);
    }
  }

  private Effect<Event, State> onAttached(State state, Attached cmd) {
    topicPaused = cmd.topicPaused();
    topicNextOffset = Math.max(topicNextOffset, cmd.topicNextOffset());
    maxPushedSeqNr = Math.max(maxPushedSeqNr, cmd.topicLastSeqNr());
    if (!cmd.member()) {
      ctx.getLog().debug("{}/{} is not a channel of its topic; closing {} consumers", topic, name, consumers.size());
      closeConsumers("channel does not exist");
      return state.exists() ? Effect().persist(new Deleted()).thenStop() : Effect().stop();
    }
    if (state.exists() && attached) {
      // The topic restarted and forgot where its channels are: say it again, for retention.
      reportedSeqNr = 0;
      reportPosition(state.cursorSeqNr());
      return Effect().none();
    }
    if (state.exists()) {
      attached = true;
      startReading(state, cmd.held());
      return Effect().none();
    }
    Topic.Start start = cmd.start();
    return Effect().persist(new Created(start.offset(), start.seqNr()))
        .thenRun(s -> {
          resetRuntime(start.offset(), start.seqNr(), new long[0]);
          attached = true;
          startReading(s, cmd.held());
        });
  }

  private void startReading(State state, List<Push> held) {
    if (topicEphemeral) {
      // Nothing to read back: the topic handed over what it held and pushes the rest.
      live = true;
      for (Push p : held) take(p.seqNr(), p.batch());
      deliver(state);
    } else {
      maybeRead(state);
    }
  }

  private Effect<Event, State> onPush(State state, Push push) {
    Topic.MessagesAppended batch = push.batch();
    topicNextOffset = Math.max(topicNextOffset, batch.nextOffset());
    if (!state.exists() || !live) {
      maxPushedSeqNr = Math.max(maxPushedSeqNr, push.seqNr());
      if (reading && pendingCount + batch.messages().size() <= memQueueSize()) {
        pending.addLast(push);
        pendingCount += batch.messages().size();
      }
      maybeRead(state);
      return Effect().none();
    }
    if (push.seqNr() < readSeqNr) return Effect().none();
    boolean gap = batch.firstOffset() > readOffset;
    if (!topicEphemeral && (gap || ready.size() + batch.messages().size() > memQueueSize())) {
      // Stop holding bodies; they are read back from the topic's journal as consumers drain. A gap
      // (a push that never arrived) is read back the same way.
      live = false;
      maxPushedSeqNr = push.seqNr();
      maybeRead(state);
      return Effect().none();
    }
    take(push.seqNr(), batch);
    deliver(state);
    return Effect().none();
  }

  private int memQueueSize() {
    return Math.max(1, settings.memQueueSize());
  }

  /** Takes a topic write into the channel: skips what is done or already taken. */
  private void take(long seqNr, Topic.MessagesAppended batch) {
    long now = System.currentTimeMillis();
    long offset = batch.firstOffset();
    for (Published p : batch.messages()) {
      if (offset >= readOffset && offset >= cursor && !finished.contains(offset)) {
        if (topicEphemeral && ready.size() >= memQueueSize()) {
          // As nsqd does for ephemeral queues: beyond the memory bound, drop.
          finished.add(offset);
        } else {
          Deferral recovered = recoveredDeferrals.remove(offset);
          Msg m = new Msg(offset, seqNr, p.timestamp(), p.body(), recovered != null ? recovered.due() : p.deliverAt());
          m.requeueDeferred = recovered != null;
          if (m.deliverAt > now) deferred.add(m);
          else ready.addLast(m);
        }
      }
      offset++;
    }
    readOffset = Math.max(readOffset, batch.nextOffset());
    readSeqNr = Math.max(readSeqNr, seqNr + 1);
    cursor = finished.advance(cursor);
  }

  private void maybeRead(State state) {
    if (reading || live || readOnTick || !attached || !state.exists() || topicEphemeral) return;
    // Read again once half the buffer is gone: a few large reads rather than many of one write.
    if (ready.size() > memQueueSize() / 2) return;
    reading = true;
    long generation = readGeneration;
    long from = readSeqNr;
    long room = memQueueSize() - ready.size();
    AtomicLong taken = new AtomicLong();
    ctx.pipeToSelf(
        Journals.reader(ctx.getSystem())
            .currentEventsByPersistenceId(Topic.persistenceId(topic), from, Long.MAX_VALUE)
            // Stop once the buffer is full: it overshoots by one journal write at most.
            .takeWhile(env -> taken.getAndAdd(messagesIn(env)) < room)
            .runWith(Sink.seq(), ctx.getSystem()),
        (events, failure) -> new ReadDone(generation, events, failure, taken.get() >= room));
  }

  /**
   * Takes the pushes that arrived during a read and follow on from it (offsets are contiguous
   * across writes; other events between them carry no messages), as long as they fit in memory.
   */
  private void spliceRead() {
    for (Push p : pending) {
      Topic.MessagesAppended batch = p.batch();
      if (batch.firstOffset() > readOffset || ready.size() + batch.messages().size() > memQueueSize()) return;
      take(p.seqNr(), batch);
    }
  }

  private static int messagesIn(EventEnvelope env) {
    return env.event() instanceof Topic.MessagesAppended batch ? batch.messages().size() : 0;
  }

  private Effect<Event, State> onReadDone(State state, ReadDone done) {
    if (done.generation() != readGeneration) return Effect().none();
    reading = false;
    if (done.failure() != null) {
      clearPending();
      ctx.getLog().warn("reading topic {} for channel {} failed; retrying on the next tick", topic, name, done.failure());
      return Effect().none();
    }
    for (EventEnvelope env : done.events()) {
      if (env.event() instanceof Topic.MessagesAppended batch) {
        if (batch.firstOffset() > readOffset && !ephemeral) {
          // Retention deletes only what every durable channel is done with: this is a bug.
          ctx.getLog().error("{}/{}: messages {} to {} are no longer in the topic's journal", topic, name,
              MessageId.of(readOffset), MessageId.of(batch.firstOffset() - 1));
        }
        take(env.sequenceNr(), batch);
      }
      readSeqNr = Math.max(readSeqNr, env.sequenceNr() + 1);
    }
    if (!done.filled()) spliceRead();
    clearPending();
    // Past every write pushed so far: later pushes follow on (a gap among them is read back).
    if (!done.filled() && readSeqNr > maxPushedSeqNr) live = true;
    // A read that found nothing new is tried again on the tick, not at once in a loop.
    readOnTick = !live && done.events().isEmpty();
    deliver(state);
    return Effect().none();
  }

  // ---- delivery -------------------------------------------------------------------------------
  private void deliver(State state) {
    if (!state.paused() && !topicPaused && !consumers.isEmpty() && !ready.isEmpty()) {
      long now = System.currentTimeMillis();
      Map<Consumer, List<ConsumerProtocol.Delivery>> out = new LinkedHashMap<>();
      while (!ready.isEmpty()) {
        Consumer c = nextWithCredit();
        if (c == null) break;
        Msg m = ready.pollFirst();
        m.attempts++;
        inFlight.put(m.offset, new InFlight(m, c, now, now + c.msgTimeoutMs));
        c.inFlight++;
        c.messageCount++;
        out.computeIfAbsent(c, k -> new ArrayList<>())
            .add(new ConsumerProtocol.Delivery(m.offset, m.timestamp, m.attempts, m.body));
      }
      out.forEach((c, list) -> c.ref.tell(new ConsumerProtocol.Deliver(list)));
    }
    maybeRead(state);
    tickWhileNeeded();
  }

  /** Round robin over the consumers that have RDY credit left. */
  private Consumer nextWithCredit() {
    for (int i = 0; i <= consumers.size(); i++) {
      if (!roundRobin.hasNext()) roundRobin = new ArrayList<>(consumers.values()).iterator();
      if (!roundRobin.hasNext()) return null;
      Consumer c = roundRobin.next();
      if (consumers.containsKey(c.ref) && c.inFlight < c.ready) return c;
    }
    return null;
  }

  private Effect<Event, State> onSubscribe(State state, Subscribe cmd) {
    if (!consumers.containsKey(cmd.consumer())) {
      consumers.put(cmd.consumer(), new Consumer(cmd.consumer(), cmd.clientId(), cmd.remoteAddress(), cmd.client(), cmd.msgTimeoutMs()));
      ctx.watchWith(cmd.consumer(), new Unsubscribe(cmd.consumer()));
      roundRobin = List.<Consumer>of().iterator();
    }
    // The consumer talks to this actor directly from now on: its FINs then reach us before the
    // notice of its death does, which a detour through sharding would not promise.
    cmd.consumer().tell(new ConsumerProtocol.Subscribed(ctx.getSelf()));
    return Effect().none();
  }

  private Effect<Event, State> onReady(State state, Ready cmd) {
    Consumer c = consumers.get(cmd.consumer());
    if (c != null) {
      c.ready = cmd.count();
      deliver(state);
    }
    return Effect().none();
  }

  /** The in-flight entry of this consumer for this offset, or null after telling it why not. */
  private InFlight owned(ActorRef<ConsumerProtocol> consumer, long offset, String verb) {
    InFlight f = inFlight.get(offset);
    if (f != null && f.consumer.ref.equals(consumer)) return f;
    // nsqd's texts, after its channel's errors.
    String why = f == null ? "ID not in flight" : "client does not own message";
    consumer.tell(new ConsumerProtocol.Failed("E_" + verb + "_FAILED", verb + " " + MessageId.of(offset) + " failed " + why));
    return null;
  }

  private Effect<Event, State> onFinish(State state, Finish cmd) {
    boolean any = false;
    for (long offset : cmd.offsets()) {
      InFlight f = owned(cmd.consumer(), offset, "FIN");
      if (f == null) continue;
      inFlight.remove(offset);
      f.consumer.inFlight--;
      f.consumer.finishCount++;
      recordE2eLatency(f.msg.timestamp);
      finished.add(offset);
      any = true;
    }
    if (!any) return Effect().none();
    cursor = finished.advance(cursor);
    dirty = true;
    deliver(state);
    return Effect().none();
  }

  private Effect<Event, State> onRequeue(State state, Requeue cmd) {
    InFlight f = owned(cmd.consumer(), cmd.offset(), "REQ");
    if (f == null) return Effect().none();
    inFlight.remove(cmd.offset());
    f.consumer.inFlight--;
    f.consumer.requeueCount++;
    requeueCount++;
    long delay = Math.min(Math.max(cmd.delayMs(), 0), settings.maxReqTimeout().toMillis());
    if (delay == 0) {
      ready.addLast(f.msg);
    } else {
      f.msg.deliverAt = System.currentTimeMillis() + delay;
      f.msg.requeueDeferred = true;
      deferred.add(f.msg);
      dirty = true;
    }
    deliver(state);
    return Effect().none();
  }

  private Effect<Event, State> onTouch(State state, Touch cmd) {
    InFlight f = owned(cmd.consumer(), cmd.offset(), "TOUCH");
    if (f != null) {
      long now = System.currentTimeMillis();
      f.deadline = Math.min(now + f.consumer.msgTimeoutMs, f.deliveredAt + settings.maxMsgTimeout().toMillis());
    }
    return Effect().none();
  }

  private Effect<Event, State> removeConsumer(State state, ActorRef<ConsumerProtocol> ref) {
    Consumer c = consumers.remove(ref);
    if (c == null) return Effect().none();
    ctx.unwatch(ref);
    roundRobin = List.<Consumer>of().iterator();
    // What it held goes back to the channel at once.
    inFlight.values().removeIf(f -> {
      if (f.consumer != c) return false;
      ready.addFirst(f.msg);
      return true;
    });
    if (Names.isEphemeral(name) && consumers.isEmpty()) {
      topicRef().tell(new Topic.ChannelVanished(name));
    }
    deliver(state);
    return Effect().none();
  }

  private Effect<Event, State> onTick(State state, Tick tick) {
    readOnTick = false;
    long now = System.currentTimeMillis();
    inFlight.values().removeIf(f -> {
      if (f.deadline > now) return false;
      f.consumer.inFlight--;
      f.consumer.timeoutCount++;
      timeoutCount++;
      ready.addLast(f.msg);
      return true;
    });
    while (!deferred.isEmpty() && deferred.peek().deliverAt <= now) {
      Msg m = deferred.poll();
      if (m.requeueDeferred) dirty = true;
      m.requeueDeferred = false;
      ready.addLast(m);
    }
    deliver(state);
    Effect<Event, State> effect = Effect().none();
    if (dirty && state.exists() && !ephemeral) {
      effect = Effect().persist(progress()).thenRun(s -> reportPosition(s.cursorSeqNr()));
    } else if (dirty && state.exists()) {
      // An ephemeral channel keeps nothing: what it holds in memory is its position (for a durable topic).
      dirty = false;
      if (!topicEphemeral) reportPosition(neededSeqNr());
    }
    tickWhileNeeded();
    return effect;
  }

  /** The lowest topic journal write that holds a message this channel has not finished. */
  private long neededSeqNr() {
    long seqNr = readSeqNr;
    for (Msg m : ready) seqNr = Math.min(seqNr, m.seqNr);
    for (InFlight f : inFlight.values()) seqNr = Math.min(seqNr, f.msg.seqNr);
    for (Msg m : deferred) seqNr = Math.min(seqNr, m.seqNr);
    return seqNr;
  }

  private Progressed progress() {
    dirty = false;
    List<Deferral> deferrals = new ArrayList<>();
    for (Msg m : deferred) {
      if (m.requeueDeferred) deferrals.add(new Deferral(m.offset, m.seqNr, m.deliverAt));
    }
    // REQ delays restored at recovery whose messages are not read back yet keep their due time too.
    deferrals.addAll(recoveredDeferrals.values());
    return new Progressed(cursor, neededSeqNr(), finished.toArray(), deferrals);
  }

  /**
   * Tells the topic that this channel will not read its journal below {@code seqNr} again, so the
   * topic may delete what lies below (retention). Sent only once it is durable, and only when it moved.
   */
  private void reportPosition(long seqNr) {
    if (seqNr <= reportedSeqNr) return;
    reportedSeqNr = seqNr;
    topicRef().tell(new Topic.ChannelAt(name, seqNr));
  }

  private Effect<Event, State> onEmpty(State state, EmptyUpTo cmd) {
    for (InFlight f : inFlight.values()) f.consumer.inFlight--;
    inFlight.clear();
    ready.clear();
    deferred.clear();
    finished.clear();
    recoveredDeferrals.clear();
    cursor = Math.max(cursor, cmd.offset());
    readOffset = Math.max(readOffset, cmd.offset());
    readSeqNr = Math.max(readSeqNr, cmd.seqNr());
    readGeneration++;
    reading = false;
    clearPending();
    // Every push up to the empty point came before this command, so what follows is live.
    live = true;
    dirty = false;
    if (ephemeral) return Effect().reply(cmd.replyTo(), StatusReply.ack());
    return Effect().persist(new Progressed(cursor, readSeqNr, new long[0], List.of()))
        .thenRun(s -> reportPosition(s.cursorSeqNr()))
        .thenReply(cmd.replyTo(), s -> StatusReply.ack());
  }

  private Effect<Event, State> onDelete(State state, Delete cmd) {
    closeConsumers("channel deleted");
    ready.clear();
    inFlight.clear();
    deferred.clear();
    return Effect().persist(new Deleted())
        .thenRun(s -> {
          if (cmd.replyTo() != null) cmd.replyTo().tell(StatusReply.ack());
        })
        .thenStop();
  }

  private void closeConsumers(String reason) {
    consumers.keySet().forEach(ref -> ref.tell(new ConsumerProtocol.Close(reason)));
    consumers.clear();
  }

  /** Waiting for delivery: in the ready buffer, or still to be read back from the topic. */
  private long depth() {
    long unread = topicEphemeral ? 0
        : Math.max(0, topicNextOffset - readOffset - finished.countFrom(readOffset));
    return ready.size() + unread;
  }

  private long messageCount(State state) {
    return Math.max(0, topicNextOffset - state.startOffset());
  }

  private Effect<Event, State> onGetStats(State state, GetStats cmd) {
    List<ClientStats> clients = new ArrayList<>();
    for (Consumer c : consumers.values()) {
      clients.add(new ClientStats(c.clientId, c.remoteAddress, c.ready, c.inFlight, c.messageCount,
          c.finishCount, c.requeueCount, c.timeoutCount, c.connectTs, c.client));
    }
    cmd.replyTo().tell(new ChannelStats(topic, name, state.exists(), state.paused(), depth(),
        inFlight.size(), deferred.size(), messageCount(state),
        requeueCount, timeoutCount, clients, settings.advertisedHttp(), e2eStats()));
    return Effect().none();
  }

  private void recordE2eLatency(long publishedAtMs) {
    // Auto-resizing, 2 significant digits: a few KB per channel that gets FINs.
    if (e2eLatency == null) e2eLatency = new Histogram(2);
    e2eLatency.recordValue(Math.max(0, System.currentTimeMillis() - publishedAtMs));
  }

  private E2eLatency e2eStats() {
    if (e2eLatency == null || e2eLatency.getTotalCount() == 0) return E2eLatency.NONE;
    List<Percentile> percentiles = new ArrayList<>();
    for (double q : E2E_QUANTILES) {
      percentiles.add(new Percentile(q, e2eLatency.getValueAtPercentile(q * 100) * 1_000_000));
    }
    percentiles.add(new Percentile(1.0, e2eLatency.getMaxValue() * 1_000_000));
    return new E2eLatency(e2eLatency.getTotalCount(), percentiles);
  }

  private EntityRef<BrokerEntity.Command> topicRef() {
    return BrokerEntity.topic(ctx.getSystem(), topic);
  }

  // ---- events applied -------------------------------------------------------------------------
  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(Created.class, (s, e) -> new State(true, false, e.startOffset(), e.startOffset(), e.startSeqNr(),
            new long[0], List.of()))
        .onEvent(Progressed.class, (s, e) -> new State(s.exists(), s.paused(), s.startOffset(), e.cursor(),
            e.cursorSeqNr(), e.finished(), e.deferred()))
        .onEvent(PausedChanged.class, (s, e) -> new State(s.exists(), e.paused(), s.startOffset(), s.cursor(),
            s.cursorSeqNr(), s.finished(), s.deferred()))
        .onEvent(Deleted.class, (s, e) -> State.initial())
        .build();
  }
}
