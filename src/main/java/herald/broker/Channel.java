package herald.broker;

import herald.settings.Settings;
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

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A channel is a cursor over its topic's log, shared by its consumers. It persists only its
 * progress: the cursor (every offset below is done), the FINed offsets above it, paused, and the
 * due times of REQ-deferred messages. Bodies live in the topic's journal; the ready buffer, the
 * in-flight table and the consumers live in memory. FINs are applied at once and persisted in
 * batches: a crash in that window re-delivers, never loses.
 *
 * <p>The entity composes one part per concern: {@link ChannelConsumers} (RDY, round robin),
 * {@link InFlightTable} (deadlines), {@link ReadyQueue} (ready buffer and deferrals),
 * {@link TopicReader} (live pushes or reading the topic's journal back), {@link ChannelProgress}
 * (what is written) and {@link E2eLatencyRecorder}. Every failed delivery attempt goes through
 * {@link #attemptFailed}.
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

  /**
   * Replay: the cursor moves to {@code start} (found by the topic, which keeps what lies after it);
   * every message from there on is delivered again, its attempts counted from 1.
   */
  public record Rewind(Topic.Start start, ActorRef<StatusReply<Done>> replyTo) implements Command {}

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

  /** Replaces the channel's dead-letter settings. */
  public record Configure(ChannelConfig config, ActorRef<StatusReply<Done>> replyTo) implements Command {}

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

  /**
   * {@code rewindCount}: rewinds since the channel started on its node; {@code deadLetterCount}:
   * messages that left through the dead-letter topic, ever; {@code maxAttempts} 0 (no limit) or the
   * channel's limit, with {@code deadLetterTopic} where they go. {@code deadLetterWaitingCount}:
   * messages whose last attempt failed and that are not stored in the dead-letter topic yet (below
   * --min-free-space they wait here until space returns; also while the dead-letter topic does not
   * answer): neither in the depth nor in flight, so without it they would show nowhere.
   */
  public record ChannelStats(
      String topic, String name, boolean exists, boolean paused, long depth, long inFlightCount,
      long deferredCount, long messageCount, long requeueCount, long timeoutCount,
      List<ClientStats> clients, String node, E2eLatency e2eProcessingLatency, long rewindCount,
      long deadLetterCount, int maxAttempts, String deadLetterTopic, long deadLetterWaitingCount)
      implements CborSerializable {
    public ChannelStats(String topic, String name, boolean exists, boolean paused, long depth, long inFlightCount,
        long deferredCount, long messageCount, long requeueCount, long timeoutCount,
        List<ClientStats> clients, String node, E2eLatency e2eProcessingLatency) {
      this(topic, name, exists, paused, depth, inFlightCount, deferredCount, messageCount, requeueCount, timeoutCount,
          clients, node, e2eProcessingLatency, 0, 0, 0, null, 0);
    }
  }

  /**
   * nsqd's e2e_processing_latency: FIN time minus publish time, in nanoseconds (millisecond
   * precision: timestamps are Unix ms), over every FIN since the channel started on its node.
   * The last percentile is the maximum (quantile 1.0); none while count is 0.
   */
  public record E2eLatency(long count, List<Percentile> percentiles) implements CborSerializable {
    public static final E2eLatency NONE = new E2eLatency(0, List.of());
  }

  public record Percentile(double quantile, long value) implements CborSerializable {}


  /** Runs only while something is timed: messages in flight or deferred, progress to write, a read to retry. */
  private enum Tick implements Command { INSTANCE }

  private enum IdleCheck implements Command { INSTANCE }

  private record ReadDone(long generation, List<EventEnvelope> events, Throwable failure, boolean filled)
      implements Command {}

  /** The dead-letter topic's answer for these messages: stored (or already stored), or failure. */
  private record DeadLettered(List<ChannelMessage> messages, Throwable failure) implements Command {}

  /** The topic writes that hold the bodies of these due messages. */
  private record BodiesRead(List<ChannelMessage> messages, List<EventEnvelope> events, Throwable failure)
      implements Command {}

  // ---- events ---------------------------------------------------------------------------------
  public interface Event extends CborSerializable {}

  public record Created(long startOffset, long startSeqNr) implements Event {}

  /**
   * The durable progress. Cursor, finished offsets, attempts and count replace those before; the
   * REQ deferrals are written as changes, so a write costs what changed, not how many wait.
   * {@code attempts}: runs of offsets with the delivery attempts of the messages in memory and not
   * deferred by a REQ (see AttemptCounts); null in progress written before it was.
   * {@code deadLettered}: how many messages left through the dead-letter topic, ever.
   * {@code deferred}: null, or every deferral there is (progress written before the changes were,
   * and an emptied or rewound channel's empty list). {@code deferredNow}: the REQ deferrals made
   * since the last write, with their attempts; {@code deferralsEnded}: ranges of offsets whose
   * deferral ended since (read back when due, or gone). An offset is in at most one of the two.
   */
  public record Progressed(long cursor, long cursorSeqNr, long[] finished, List<Deferral> deferred, long[] attempts,
      long deadLettered, Deferrals deferredNow, long[] deferralsEnded) implements Event {
    public Progressed(long cursor, long cursorSeqNr, long[] finished, List<Deferral> deferred) {
      this(cursor, cursorSeqNr, finished, deferred, new long[0], 0, null, null);
    }
  }

  /** The dead-letter settings from now on. */
  public record Configured(ChannelConfig config) implements Event {}

  public record PausedChanged(boolean paused) implements Event {}

  public record Deleted() implements Event {}

  /** {@code attempts}: 0 in deferrals written before they carried them (their attempts were in the runs). */
  public record Deferral(long offset, long seqNr, long due, int attempts) implements CborSerializable {}

  // ---- state ----------------------------------------------------------------------------------
  /**
   * {@code deferred} is changed in place by each Progressed (see Deferrals): only the event
   * handler changes it, and Pekko holds commands back while a snapshot of it is stored.
   */
  public record State(
      boolean exists, boolean paused, long startOffset, long cursor, long cursorSeqNr,
      long[] finished, Deferrals deferred, long[] attempts, long deadLettered, ChannelConfig config)
      implements CborSerializable {

    static State initial() {
      return new State(false, false, 0, 0, 1, new long[0], new Deferrals(), new long[0], 0, ChannelConfig.NONE);
    }

    /** Settings made before (the channel started while its topic was adding it) are kept. */
    State created(Created e) {
      return new State(true, false, e.startOffset(), e.startOffset(), e.startSeqNr(), new long[0], new Deferrals(),
          new long[0], 0, config);
    }

    State progressed(Progressed e) {
      Deferrals deferrals = deferred == null ? new Deferrals() : deferred;
      if (e.deferred() != null) {
        deferrals.clear();
        deferrals.putAll(e.deferred());
      }
      deferrals.removeRanges(e.deferralsEnded());
      if (e.deferredNow() != null) deferrals.putAll(e.deferredNow());
      return new State(exists, paused, startOffset, e.cursor(), e.cursorSeqNr(), e.finished(), deferrals,
          e.attempts() == null ? new long[0] : e.attempts(), e.deadLettered(), config);
    }

    State withPaused(boolean paused) {
      return new State(exists, paused, startOffset, cursor, cursorSeqNr, finished, deferred, attempts, deadLettered, config);
    }

    State configured(Configured e) {
      return new State(exists, paused, startOffset, cursor, cursorSeqNr, finished, deferred, attempts, deadLettered,
          e.config());
    }
  }

  /** Why a delivery attempt failed; each returns the message to the channel its own way. */
  enum Failure { REQUEUED, TIMED_OUT, CONSUMER_GONE }

  private static final Duration TICK = Duration.ofMillis(100);
  private static final Duration DEAD_LETTER_TIMEOUT = Duration.ofSeconds(10);

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

  // ---- runtime (memory only) ------------------------------------------------------------------
  private final ChannelConsumers consumers = new ChannelConsumers();
  private final InFlightTable inFlight = new InFlightTable();
  private final ReadyQueue queue;
  private final TopicReader reader;
  private final ChannelProgress progress = new ChannelProgress();
  private final E2eLatencyRecorder e2eLatency = new E2eLatencyRecorder();
  private final DeadLetters deadLetters = new DeadLetters();
  private ChannelConfig config = ChannelConfig.NONE; // the state's, for the parts that run without it
  private final TopicReader.Taker taker = new TopicReader.Taker() {
    @Override
    public void take(long seqNr, Topic.MessagesAppended batch) {
      Channel.this.take(seqNr, batch);
    }

    @Override
    public int buffered() {
      return held();
    }

    @Override
    public void missing(long from, long to) {
      // Retention deletes only what every durable channel is done with: this is a bug.
      if (!ephemeral) {
        ctx.getLog().error("{}/{}: messages {} to {} are no longer in the topic's journal", topic, name,
            MessageId.of(from), MessageId.of(to - 1));
      }
    }
  };
  private boolean attached;
  private boolean topicPaused;
  private long requeueCount;
  private long timeoutCount;
  private long rewindCount;
  private boolean deadLettersWaitForDisk;

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
    this.reader = new TopicReader(topicEphemeral, settings.memQueueSize());
    // An ephemeral topic has no journal to read a deferred body back from.
    this.queue = new ReadyQueue(topicEphemeral, progress::deferralEnded);
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
          config = state.config() == null ? ChannelConfig.NONE : state.config();
          resetRuntime(state.cursor(), state.cursorSeqNr(), state.finished(), state.deferred(), state.attempts(),
              state.deadLettered());
          topicRef().tell(new Topic.Attach(name, ctx.getSelf()));
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

  private void resetRuntime(
      long cursor, long seqNr, long[] finishedRanges, Deferrals deferred, long[] attempts, long deadLettered) {
    queue.clear();
    inFlight.clear();
    deadLetters.clear();
    progress.reset(cursor, finishedRanges, deferred, attempts, deadLettered);
    reader.reset(cursor, seqNr);
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
        .onCommand(BodiesRead.class, this::onBodiesRead)
        .onCommand(DeadLettered.class, this::onDeadLettered)
        .onCommand(Configure.class, (s, c) -> Effect().persist(new Configured(c.config()))
            .thenRun(x -> config = c.config())
            .thenReply(c.replyTo(), x -> StatusReply.ack()))
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
        // Nothing to change, nothing written: unpause is let through below --min-free-space (HttpApi), so a loop of them must not write.
        .onCommand(SetPaused.class, (s, c) -> s.paused() == c.paused() ? Effect().reply(c.replyTo(), StatusReply.ack())
            : Effect().persist(new PausedChanged(c.paused()))
                .thenRun(this::deliver)
                .thenReply(c.replyTo(), x -> StatusReply.ack()))
        .onCommand(EmptyUpTo.class, this::onEmpty)
        .onCommand(Rewind.class, this::onRewind)
        .onCommand(Delete.class, this::onDelete)
        .onCommand(GetStats.class, this::onGetStats)
        .onCommand(IdleCheck.class, this::onIdleCheck)
        .onCommand(BrokerEntity.Stop.class, (s, c) -> {
          if (s.exists() && !ephemeral) {
            TopicRegistry.ref(ctx.getSystem()).tell(new TopicRegistry.Park(topic, name, new TopicRegistry.Summary(
                s.paused(), depth(), inFlight.size(), queue.deferredCount(), messageCount(s), 0,
                progress.deadLetteredCount(), config.maxAttempts(), config.deadLetterTopicOf(topic, name))));
          }
          return progress.isDirty() ? Effect().persist(progressed()).thenStop() : Effect().stop();
        })
        .build();
  }

  /**
   * Stops once idle long enough: no consumer, nothing in flight or deferred, no progress to write,
   * no read running. Messages waiting in the ready buffer do not keep it: they are its depth, and
   * the topic's journal has them.
   */
  private Effect<Event, State> onIdleCheck(State state, IdleCheck check) {
    boolean idle = consumers.isEmpty() && inFlight.isEmpty() && queue.deferredCount() == 0 && !progress.isDirty()
        && !reader.isReading() && deadLetters.isEmpty();
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
    return !inFlight.isEmpty() || queue.deferredCount() > 0 || progress.isDirty() || reader.waitsForTick()
        || !deadLetters.isEmpty();
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
    reader.topicAt(cmd.topicNextOffset(), cmd.topicLastSeqNr());
    if (!cmd.member()) {
      ctx.getLog().debug("{}/{} is not a channel of its topic; closing {} consumers", topic, name, consumers.size());
      consumers.closeAll("channel does not exist");
      return state.exists() ? Effect().persist(new Deleted()).thenStop() : Effect().stop();
    }
    if (state.exists() && attached) {
      // The topic restarted and forgot where its channels are: say it again, for retention.
      progress.forgetReported();
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
          resetRuntime(start.offset(), start.seqNr(), new long[0], s.deferred(), new long[0], 0);
          attached = true;
          startReading(s, cmd.held());
        });
  }

  private void startReading(State state, List<Push> held) {
    if (topicEphemeral) {
      // Nothing to read back: the topic handed over what it held and pushes the rest.
      reader.goLive();
      for (Push p : held) take(p.seqNr(), p.batch());
      deliver(state);
    } else {
      maybeRead(state);
    }
  }

  private Effect<Event, State> onPush(State state, Push push) {
    switch (reader.push(push, state.exists(), held())) {
      case TAKE -> {
        take(push.seqNr(), push.batch());
        deliver(state);
      }
      case READ -> maybeRead(state);
      case IGNORE -> { }
    }
    return Effect().none();
  }

  /** Takes a topic write into the channel: skips what is done or already taken. */
  private void take(long seqNr, Topic.MessagesAppended batch) {
    long now = System.currentTimeMillis();
    long offset = batch.firstOffset();
    for (Published p : batch.messages()) {
      if (offset >= reader.readOffset() && !progress.isDone(offset)) {
        if (topicEphemeral && queue.readyCount() >= reader.memQueueSize()) {
          // As nsqd does for ephemeral queues: beyond the memory bound, drop.
          progress.finish(offset);
        } else {
          Deferral recovered = progress.writtenDeferral(offset);
          ChannelMessage m = new ChannelMessage(offset, seqNr, p.timestamp(), p.body(),
              recovered != null ? recovered.due() : p.deliverAt(), p.dedupId());
          m.requeueDeferred = recovered != null;
          int attempts = progress.takeRecoveredAttempts(offset);
          // A deferral written before deferrals carried attempts has 0: its attempts were in the runs.
          m.attempts = recovered != null && recovered.attempts() > 0 ? recovered.attempts() : attempts;
          if (config.exhausted(m.attempts)) {
            // Its last attempt failed before a restart, and perhaps it reached the dead-letter
            // topic too: publishing it again under the same id finishes it either way.
            if (m.requeueDeferred) progress.deferralEnded(offset);
            m.requeueDeferred = false;
            deadLetters.decide(m);
            progress.changed();
          } else {
            queue.add(m, now);
          }
        }
      }
      offset++;
    }
    reader.taken(seqNr, batch.nextOffset());
    progress.advance();
  }

  /**
   * Bodies held in memory that count against --mem-queue-size: the ready buffer and the dead letters,
   * which may wait long (for disk space, or for their topic) while consumers keep failing messages.
   */
  private int held() {
    return queue.readyCount() + deadLetters.size();
  }

  private void maybeRead(State state) {
    TopicReader.Read read = reader.nextRead(attached && state.exists(), held());
    if (read == null) return;
    AtomicLong taken = new AtomicLong();
    ctx.pipeToSelf(
        Journals.reader(ctx.getSystem())
            .currentEventsByPersistenceId(Topic.persistenceId(topic), read.fromSeqNr(), read.toSeqNr())
            // Stop once the buffer is full: it overshoots by one journal write at most.
            .takeWhile(env -> taken.getAndAdd(TopicReader.messagesIn(env)) < read.room())
            .runWith(Sink.seq(), ctx.getSystem()),
        (events, failure) -> new ReadDone(read.generation(), events, failure, events != null && read.filled(taken.get(), events)));
  }

  private Effect<Event, State> onReadDone(State state, ReadDone done) {
    if (!reader.isCurrent(done.generation())) return Effect().none();
    if (done.failure() != null) {
      reader.readFailed();
      ctx.getLog().warn("reading topic {} for channel {} failed; retrying on the next tick", topic, name, done.failure());
      return Effect().none();
    }
    reader.readDone(done.events(), done.filled(), taker);
    deliver(state);
    return Effect().none();
  }

  // ---- delivery -------------------------------------------------------------------------------
  private void deliver(State state) {
    if (!state.paused() && !topicPaused && !consumers.isEmpty() && queue.hasReady()) {
      long now = System.currentTimeMillis();
      Map<ChannelConsumers.Consumer, List<ConsumerProtocol.Delivery>> out = new LinkedHashMap<>();
      // Round robin by runs: each consumer with credit takes its share of what is ready as one run
      // of consecutive messages. Its FINs then extend one finished range (see Ranges) instead of
      // leaving every other offset open, as message-by-message turns did.
      int sharers = consumers.withCredit();
      long share = sharers == 0 ? 0 : (queue.readyCount() + sharers - 1) / sharers;
      while (queue.hasReady()) {
        ChannelConsumers.Consumer c = consumers.nextWithCredit();
        if (c == null) break;
        List<ConsumerProtocol.Delivery> list = out.computeIfAbsent(c, k -> new ArrayList<>());
        for (long n = Math.min(share, c.credit()); n > 0 && queue.hasReady(); n--) {
          ChannelMessage m = queue.poll();
          inFlight.add(m, c, now);
          list.add(new ConsumerProtocol.Delivery(m.offset, m.timestamp, m.attempts, m.body, m.msgId));
        }
      }
      out.forEach((c, list) -> c.ref.tell(new ConsumerProtocol.Deliver(list)));
      // Attempts go with the next progress write (batched, like FINs): a restart keeps counting.
      if (!out.isEmpty()) progress.changed();
    }
    maybeRead(state);
    readDueBodies();
    tickWhileNeeded();
  }

  /** Reads back the bodies of deferred messages that are due, as long as the ready buffer has room. */
  private void readDueBodies() {
    if (!queue.hasDueWithoutBody()) return;
    List<ChannelMessage> due = queue.takeDueWithoutBody(Math.max(0, reader.memQueueSize() - queue.readyCount()));
    if (due.isEmpty()) return;
    ctx.pipeToSelf(TopicReader.writes(Journals.reader(ctx.getSystem()), Topic.persistenceId(topic), due)
            .runWith(Sink.seq(), ctx.getSystem()),
        (events, failure) -> new BodiesRead(due, events, failure));
  }

  private Effect<Event, State> onBodiesRead(State state, BodiesRead done) {
    if (done.failure() != null) {
      queue.bodyNotRead(done.messages());
      ctx.getLog().warn("reading deferred messages of {}/{} back failed; retrying on the next tick", topic, name,
          done.failure());
      return Effect().none();
    }
    Map<Long, Topic.MessagesAppended> writes = new HashMap<>();
    for (EventEnvelope env : done.events()) {
      if (env.event() instanceof Topic.MessagesAppended batch) writes.put(env.sequenceNr(), batch);
    }
    for (ChannelMessage m : done.messages()) {
      Topic.MessagesAppended batch = writes.get(m.seqNr);
      int index = batch == null ? -1 : (int) (m.offset - batch.firstOffset());
      if (index < 0 || index >= batch.messages().size()) {
        // Retention keeps every write a channel still needs: this is a bug.
        ctx.getLog().error("{}/{}: deferred message {} is no longer in the topic's journal", topic, name,
            MessageId.of(m.offset));
        queue.bodyLost(m);
        progress.finish(m.offset);
        continue;
      }
      m.body = batch.messages().get(index).body();
      queue.bodyRead(m);
    }
    progress.advance();
    deliver(state);
    return Effect().none();
  }

  /**
   * The one place where a delivery attempt that failed is decided: the message leaves the
   * in-flight table (already done by the caller) and goes back to wait for its next attempt, or,
   * when that was its last one, to the dead-letter topic.
   */
  private void attemptFailed(InFlightTable.Entry f, Failure failure, long delayMs) {
    switch (failure) {
      case REQUEUED -> {
        f.consumer.requeueCount++;
        requeueCount++;
      }
      case TIMED_OUT -> {
        f.consumer.timeoutCount++;
        timeoutCount++;
      }
      case CONSUMER_GONE -> { }
    }
    if (config.exhausted(f.msg.attempts)) {
      deadLetters.decide(f.msg);
      progress.changed();
      return;
    }
    switch (failure) {
      case REQUEUED -> {
        if (delayMs == 0) {
          queue.addLast(f.msg);
        } else {
          queue.requeueDeferred(f.msg, System.currentTimeMillis() + delayMs);
          progress.deferred(f.msg);
        }
      }
      case TIMED_OUT -> queue.addLast(f.msg);
      // What it held goes back to the channel at once, ahead of what waits.
      case CONSUMER_GONE -> queue.addFirst(f.msg);
    }
  }

  private Effect<Event, State> onSubscribe(State state, Subscribe cmd) {
    if (consumers.add(new ChannelConsumers.Consumer(
        cmd.consumer(), cmd.clientId(), cmd.remoteAddress(), cmd.client(), cmd.msgTimeoutMs()))) {
      ctx.watchWith(cmd.consumer(), new Unsubscribe(cmd.consumer()));
    }
    // The consumer talks to this actor directly from now on: its FINs then reach us before the
    // notice of its death does, which a detour through sharding would not promise.
    cmd.consumer().tell(new ConsumerProtocol.Subscribed(ctx.getSelf()));
    return Effect().none();
  }

  private Effect<Event, State> onReady(State state, Ready cmd) {
    ChannelConsumers.Consumer c = consumers.get(cmd.consumer());
    if (c != null) {
      c.ready = cmd.count();
      deliver(state);
    }
    return Effect().none();
  }

  /** The in-flight entry of this consumer for this offset, or null after telling it why not. */
  private InFlightTable.Entry owned(ActorRef<ConsumerProtocol> consumer, long offset, String verb) {
    InFlightTable.Entry f = inFlight.get(offset);
    // An in-flight entry is only ever held by the entry of a subscribed consumer.
    if (f != null && f.consumer == consumers.get(consumer)) return f;
    refuse(consumer, f, offset, verb);
    return null;
  }

  /** Tells the consumer why {@code offset} is not its to answer; {@code f}: its entry, null when not in flight. */
  private static void refuse(ActorRef<ConsumerProtocol> consumer, InFlightTable.Entry f, long offset, String verb) {
    // nsqd's texts, after its channel's errors.
    String why = f == null ? "ID not in flight" : "client does not own message";
    consumer.tell(new ConsumerProtocol.Failed("E_" + verb + "_FAILED", verb + " " + MessageId.of(offset) + " failed " + why));
  }

  private Effect<Event, State> onFinish(State state, Finish cmd) {
    boolean any = false;
    long now = System.currentTimeMillis();
    // Looked up once for a frame of FINs; null when it is not subscribed (then it holds nothing).
    ChannelConsumers.Consumer holder = consumers.get(cmd.consumer());
    for (long offset : cmd.offsets()) {
      InFlightTable.Entry f = inFlight.removeHeld(offset, holder);
      if (f == null || f.consumer != holder) {
        refuse(cmd.consumer(), f, offset, "FIN");
        continue;
      }
      f.consumer.finishCount++;
      e2eLatency.record(f.msg.timestamp, now);
      progress.finish(offset);
      any = true;
    }
    if (!any) return Effect().none();
    progress.advance();
    progress.changed();
    deliver(state);
    return Effect().none();
  }

  private Effect<Event, State> onRequeue(State state, Requeue cmd) {
    InFlightTable.Entry f = owned(cmd.consumer(), cmd.offset(), "REQ");
    if (f == null) return Effect().none();
    inFlight.remove(cmd.offset());
    attemptFailed(f, Failure.REQUEUED, Math.min(Math.max(cmd.delayMs(), 0), settings.maxReqTimeout().toMillis()));
    deliver(state);
    return Effect().none();
  }

  private Effect<Event, State> onTouch(State state, Touch cmd) {
    InFlightTable.Entry f = owned(cmd.consumer(), cmd.offset(), "TOUCH");
    if (f != null) inFlight.touch(f, System.currentTimeMillis(), settings.maxMsgTimeout().toMillis());
    return Effect().none();
  }

  private Effect<Event, State> removeConsumer(State state, ActorRef<ConsumerProtocol> ref) {
    ChannelConsumers.Consumer c = consumers.remove(ref);
    if (c == null) return Effect().none();
    ctx.unwatch(ref);
    for (InFlightTable.Entry f : inFlight.removeHeldBy(c)) attemptFailed(f, Failure.CONSUMER_GONE, 0);
    if (Names.isEphemeral(name) && consumers.isEmpty()) {
      topicRef().tell(new Topic.ChannelVanished(name));
    }
    deliver(state);
    return Effect().none();
  }

  private Effect<Event, State> onTick(State state, Tick tick) {
    reader.tick();
    long now = System.currentTimeMillis();
    for (InFlightTable.Entry f : inFlight.removeExpired(now)) attemptFailed(f, Failure.TIMED_OUT, 0);
    queue.releaseDue(now);
    deliver(state);
    Effect<Event, State> effect = Effect().none();
    if (progress.isDirty() && state.exists() && !ephemeral) {
      // Dead letters go out once this write (with their last attempts) is durable.
      effect = Effect().persist(progressed()).thenRun(s -> {
        reportPosition(s.cursorSeqNr());
        publishDeadLetters(s);
      });
    } else {
      if (progress.isDirty() && state.exists()) {
        // An ephemeral channel keeps nothing: what it holds in memory is its position (for a durable topic).
        progress.forget();
        deadLetters.written();
        if (!topicEphemeral) reportPosition(neededSeqNr());
      }
      publishDeadLetters(state);
    }
    tickWhileNeeded();
    return effect;
  }

  /** The lowest topic journal write that holds a message this channel has not finished. */
  private long neededSeqNr() {
    return neededSeqNr(inFlight.lowestSeqNr(reader.readSeqNr()));
  }

  /** {@code inFlightOrRead}: the lowest of the messages in flight and the next write to read. */
  private long neededSeqNr(long inFlightOrRead) {
    long[] lowest = {queue.lowestSeqNr(inFlightOrRead)};
    deadLetters.forEach(m -> lowest[0] = Math.min(lowest[0], m.seqNr));
    return lowest[0];
  }

  /** Walks only what is bounded (ready buffer, in flight, dead letters), never the deferred messages. */
  private Progressed progressed() {
    AttemptCounts.Collector attempts = new AttemptCounts.Collector();
    // Never delivered (most of the ready buffer): nothing to write, and no recovered count to shadow
    // (taking a message took its recovered attempts).
    queue.forEachReadyWithAttempts(m -> attempts.add(m.offset, m.attempts));
    // One walk of the in-flight table for both its attempts and its lowest write.
    long[] lowest = {reader.readSeqNr()};
    inFlight.forEach(f -> {
      attempts.add(f.msg.offset, f.msg.attempts);
      lowest[0] = Math.min(lowest[0], f.msg.seqNr);
    });
    deadLetters.forEach(m -> attempts.add(m.offset, m.attempts));
    deadLetters.written();
    return progress.write(neededSeqNr(lowest[0]), attempts);
  }

  // ---- dead letters ---------------------------------------------------------------------------
  /**
   * Publishes the dead letters whose last attempts are durable to the dead-letter topic, under
   * ids named by this channel and offset (so a publish redone after a crash is stored once).
   */
  private void publishDeadLetters(State state) {
    List<ChannelMessage> batch = deadLetters.takeToPublish();
    if (batch.isEmpty()) return;
    long now = System.currentTimeMillis();
    List<Published> copies = new ArrayList<>(batch.size());
    for (ChannelMessage m : batch) copies.add(DeadLetters.copy(topic, name, m, now));
    String target = config.deadLetterTopicOf(topic, name);
    // A dead letter is a publish like any other: below --min-free-space it waits (in this channel,
    // its attempts written) rather than take the reserve that FINs and progress writes live on.
    String refusal = NodeDisk.get(ctx.getSystem()).refusal(copies);
    if (refusal != null) {
      deadLetters.failed(batch);
      if (!deadLettersWaitForDisk) {
        deadLettersWaitForDisk = true;
        ctx.getLog().warn("{}/{}: {} dead letters wait for disk space before they go to {}; {}", topic, name,
            batch.size(), target, refusal);
      }
      return;
    }
    if (deadLettersWaitForDisk) {
      deadLettersWaitForDisk = false;
      ctx.getLog().info("{}/{}: dead letters go to {} again", topic, name, target);
    }
    ctx.pipeToSelf(
        BrokerEntity.topic(ctx.getSystem(), target).<Topic.Appended>askWithStatus(
            r -> new Topic.Append(copies, r), DEAD_LETTER_TIMEOUT),
        (appended, failure) -> new DeadLettered(batch, failure));
  }

  private Effect<Event, State> onDeadLettered(State state, DeadLettered done) {
    if (done.failure() != null) {
      deadLetters.failed(done.messages());
      ctx.getLog().warn("{}/{}: publishing {} dead letters to {} failed; retrying on the next tick", topic, name,
          done.messages().size(), config.deadLetterTopicOf(topic, name), done.failure());
      tickWhileNeeded();
      return Effect().none();
    }
    for (ChannelMessage m : done.messages()) {
      if (deadLetters.published(m)) progress.deadLettered(m.offset);
    }
    progress.advance();
    progress.changed();
    deliver(state);
    return Effect().none();
  }

  /**
   * Tells the topic that this channel will not read its journal below {@code seqNr} again, so the
   * topic may delete what lies below (retention). Sent only once it is durable, and only when it moved.
   */
  private void reportPosition(long seqNr) {
    // Not while the node stops: the topic's shard is being handed off (see BrokerEntity.nodeStopping);
    // the position is reported again once the channel runs and moves on, and until then the topic
    // keeps more, never less.
    if (BrokerEntity.nodeStopping(ctx.getSystem())) return;
    if (progress.reportable(seqNr)) topicRef().tell(new Topic.ChannelAt(name, seqNr, ctx.getSelf()));
  }

  private Effect<Event, State> onEmpty(State state, EmptyUpTo cmd) {
    inFlight.clear();
    queue.clear();
    deadLetters.clear();
    reader.emptiedTo(cmd.offset(), cmd.seqNr());
    Progressed emptied = progress.emptyTo(cmd.offset(), reader.readSeqNr());
    if (ephemeral) return Effect().reply(cmd.replyTo(), StatusReply.ack());
    return Effect().persist(emptied)
        .thenRun(s -> reportPosition(s.cursorSeqNr()))
        .thenReply(cmd.replyTo(), s -> StatusReply.ack());
  }

  private Effect<Event, State> onRewind(State state, Rewind cmd) {
    if (!state.exists()) return Effect().reply(cmd.replyTo(), StatusReply.error(Errors.CHANNEL_NOT_FOUND));
    Topic.Start start = cmd.start();
    // What is in flight now is delivered again from the journal; its FINs find nothing in flight.
    resetRuntime(start.offset(), start.seqNr(), new long[0], new Deferrals(), new long[0], progress.deadLetteredCount());
    progress.forgetDeferrals();
    rewindCount++;
    progress.forgetReported();
    if (ephemeral) {
      topicRef().tell(new Topic.ChannelRewound(name));
      if (!topicEphemeral) reportPosition(start.seqNr());
      deliver(state);
      return Effect().reply(cmd.replyTo(), StatusReply.ack());
    }
    return Effect().persist(progressed())
        .thenRun(s -> {
          topicRef().tell(new Topic.ChannelRewound(name));
          reportPosition(s.cursorSeqNr());
          deliver(s);
        })
        .thenReply(cmd.replyTo(), s -> StatusReply.ack());
  }

  private Effect<Event, State> onDelete(State state, Delete cmd) {
    consumers.closeAll("channel deleted");
    queue.clear();
    inFlight.clear();
    deadLetters.clear();
    return Effect().persist(new Deleted())
        .thenRun(s -> {
          if (cmd.replyTo() != null) cmd.replyTo().tell(StatusReply.ack());
        })
        .thenStop();
  }

  /** Waiting for delivery: in the ready buffer, or still to be read back from the topic. */
  private long depth() {
    return queue.readyCount() + reader.unread(progress);
  }

  private long messageCount(State state) {
    return Math.max(0, reader.topicNextOffset() - state.startOffset());
  }

  private Effect<Event, State> onGetStats(State state, GetStats cmd) {
    cmd.replyTo().tell(new ChannelStats(topic, name, state.exists(), state.paused(), depth(),
        inFlight.size(), queue.deferredCount(), messageCount(state),
        requeueCount, timeoutCount, consumers.stats(), settings.advertisedHttp(), e2eLatency.stats(), rewindCount,
        progress.deadLetteredCount(), config.maxAttempts(), config.deadLetterTopicOf(topic, name), deadLetters.size()));
    return Effect().none();
  }

  private EntityRef<BrokerEntity.Command> topicRef() {
    return BrokerEntity.topic(ctx.getSystem(), topic);
  }

  // ---- events applied -------------------------------------------------------------------------
  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(Created.class, State::created)
        .onEvent(Progressed.class, State::progressed)
        .onEvent(PausedChanged.class, (s, e) -> s.withPaused(e.paused()))
        .onEvent(Configured.class, State::configured)
        .onEvent(Deleted.class, (s, e) -> State.initial())
        .build();
  }
}
