package herald.broker;

import com.typesafe.config.ConfigFactory;
import herald.settings.Settings;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.DeleteMessagesFailure;
import org.apache.pekko.persistence.DeleteMessagesSuccess;
import org.apache.pekko.persistence.DeleteSnapshotsFailure;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.Persistence;
import org.apache.pekko.persistence.SaveSnapshotFailure;
import org.apache.pekko.persistence.SaveSnapshotSuccess;
import org.apache.pekko.persistence.SnapshotMetadata;
import org.apache.pekko.persistence.SnapshotProtocol;
import org.apache.pekko.persistence.SnapshotSelectionCriteria;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EffectBuilder;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A topic is an append-only log of messages, and its journal is the only copy of every body. After
 * each write it pushes the new messages, in memory, to its channels; a channel that falls behind
 * reads them back from this journal. With no channel at all, messages wait for the first one.
 */
public final class Topic extends EventSourcedBehavior<Topic.Command, Topic.Event, Topic.State> {

  // ---- commands -------------------------------------------------------------------------------
  public interface Command extends BrokerEntity.Command {}

  /**
   * Group-committed publish: one journal write for the whole list. Creates the topic. Refused,
   * unwritten, past {@code deadline} (epoch ms: its publishers have their error answer by then);
   * {@code handedTo} (if any) hears {@link Writing} when the write goes to the journal.
   */
  public record Append(List<Published> messages, long deadline, long write, ActorRef<Writing> handedTo,
      ActorRef<StatusReply<Appended>> replyTo) implements Command {
    public Append(List<Published> messages, ActorRef<StatusReply<Appended>> replyTo) {
      this(messages, Long.MAX_VALUE, 0, null, replyTo);
    }
  }

  /** Append number {@code write} is handed to the journal: from now on its outcome may be unknown. */
  public record Writing(long write) implements CborSerializable {}

  /**
   * {@code count} messages stored from {@code firstOffset} on; {@code duplicates} are the positions in
   * the request's list of the messages not stored because their dedup id already was.
   */
  public record Appended(long firstOffset, int count, List<Integer> duplicates) implements CborSerializable {
    public Appended(long firstOffset, int count) {
      this(firstOffset, count, List.of());
    }

    /**
     * This answer to one write, shared out to the requests whose messages made it up, in order,
     * {@code sizes[i]} messages each: each gets its own first offset and its own duplicates.
     */
    Appended[] split(int[] sizes) {
      Appended[] parts = new Appended[sizes.length];
      long offset = firstOffset;
      int first = 0;
      int next = 0;
      for (int i = 0; i < sizes.length; i++) {
        int end = first + sizes[i];
        List<Integer> own = new ArrayList<>();
        for (; next < duplicates.size() && duplicates.get(next) < end; next++) own.add(duplicates.get(next) - first);
        int stored = sizes[i] - own.size();
        parts[i] = new Appended(offset, stored, own.isEmpty() ? List.of() : own);
        offset += stored;
        first = end;
      }
      return parts;
    }
  }

  public record Create(ActorRef<StatusReply<Done>> replyTo) implements Command {}

  public record Delete(ActorRef<StatusReply<Done>> replyTo) implements Command {}

  public record Empty(ActorRef<StatusReply<Done>> replyTo) implements Command {}

  public record SetPaused(boolean paused, ActorRef<StatusReply<Done>> replyTo) implements Command {}

  /** Changes the topic's own settings: the fields of {@code changes} that are not null. */
  public record Configure(TopicConfig changes, ActorRef<StatusReply<Done>> replyTo) implements Command {}

  /**
   * Adds a channel; {@code createTopic} is true for a subscription, false for /channel/create.
   * {@code from}: where a new channel starts; null for the default (the backlog for a first durable
   * channel, else the end). A channel that exists stays where it is.
   */
  public record CreateChannel(String channel, boolean createTopic, ReplayFrom from, ActorRef<StatusReply<Done>> replyTo)
      implements Command {
    public CreateChannel(String channel, boolean createTopic, ActorRef<StatusReply<Done>> replyTo) {
      this(channel, createTopic, null, replyTo);
    }
  }

  public enum ChannelOp { DELETE, EMPTY, PAUSE, UNPAUSE, CONFIGURE }

  /** Admin on a channel goes through its topic, which knows whether both exist. {@code config}: for CONFIGURE. */
  public record ChannelAdmin(String channel, ChannelOp op, ChannelConfig config, ActorRef<StatusReply<Done>> replyTo)
      implements Command {
    public ChannelAdmin(String channel, ChannelOp op, ActorRef<StatusReply<Done>> replyTo) {
      this(channel, op, null, replyTo);
    }
  }

  /**
   * Replay: moves a channel's cursor to {@code to} (earliest, latest, a time or a position), found
   * in this topic's journal; what is kept from there on is delivered again.
   */
  public record RewindChannel(String channel, ReplayFrom to, ActorRef<StatusReply<Done>> replyTo) implements Command {}

  /** The channel moved its cursor as RewindChannel asked: its position reports from now on are after it. */
  public record ChannelRewound(String channel) implements Command {}

  /**
   * A channel (re)started and asks where it stands; {@code ref} is the channel itself (null: unknown),
   * which this topic then tells directly instead of through sharding.
   */
  public record Attach(String channel, ActorRef<Channel.Command> ref) implements Command {
    public Attach(String channel) {
      this(channel, null);
    }
  }

  /** An ephemeral channel lost its last consumer. */
  public record ChannelVanished(String channel) implements Command {}

  /**
   * A channel will never again read this topic's journal below {@code seqNr} (it wrote a cursor
   * that needs nothing earlier). The topic deletes what no channel needs.
   */
  public record ChannelAt(String channel, long seqNr, ActorRef<Channel.Command> ref) implements Command {
    public ChannelAt(String channel, long seqNr) {
      this(channel, seqNr, null);
    }
  }

  /** A channel this topic told directly stopped: sharding finds its next incarnation. */
  private record ChannelStopped(String channel, ActorRef<Channel.Command> ref) implements Command {}

  /**
   * Where {@code request} (a CreateChannel or a RewindChannel) starts, found in the journal; null
   * when no message is there yet (the end).
   */
  private record Located(Command request, Start start, Throwable failure) implements Command {}

  /**
   * The journal's answer to a deletion (DeleteMessagesSuccess or DeleteMessagesFailure), or the
   * snapshot store's to a snapshot (SaveSnapshotSuccess or SaveSnapshotFailure) or its deletion.
   * One adapter for both: an actor has one message adapter per class.
   */
  private record StoreAnswer(Object answer) implements Command {}

  private enum IdleCheck implements Command { INSTANCE }

  /** Publishes wait in this topic's {@link TopicInbox} (local only). */
  enum Drain implements Command { INSTANCE }

  /** Retention by time frees events as time passes, not only as channels move: looked at on a timer. */
  private enum RetentionCheck implements Command { INSTANCE }

  public record GetStats(ActorRef<TopicStats> replyTo) implements Command {}

  /**
   * {@code journalDeletedTo}: events up to this journal write were deleted (retention), 0 for none yet.
   * {@code dedup}: null from a node that does not know it.
   */
  public record TopicStats(
      String name, boolean exists, boolean paused, long depth, long messageCount,
      long messageBytes, List<String> channels, String node, long journalDeletedTo, DedupStats dedup,
      RetentionStats retention)
      implements CborSerializable {
    public TopicStats(String name, boolean exists, boolean paused, long depth, long messageCount,
                      long messageBytes, List<String> channels, String node, long journalDeletedTo) {
      this(name, exists, paused, depth, messageCount, messageBytes, channels, node, journalDeletedTo, null, null);
    }

    public TopicStats(String name, boolean exists, boolean paused, long depth, long messageCount,
                      long messageBytes, List<String> channels, String node, long journalDeletedTo, DedupStats dedup) {
      this(name, exists, paused, depth, messageCount, messageBytes, channels, node, journalDeletedTo, dedup, null);
    }
  }

  /** The retention in force (the topic's own or the node's): time and bytes kept for replay, 0 for none. */
  public record RetentionStats(long timeMs, long bytes) implements CborSerializable {}

  /**
   * The dedup window in force, the ids remembered now, the publishes not stored because their id
   * was (since the topic started on its node), and the ids forgotten early at the count limit.
   */
  public record DedupStats(long windowMs, long ids, long duplicates, long forgottenEarly) implements CborSerializable {}

  // ---- events ---------------------------------------------------------------------------------
  public interface Event extends CborSerializable {}

  public record TopicCreated(long seqNrHint) implements Event {}

  public record TopicDeleted() implements Event {}

  /** From here on, messages wait for the next first channel (topic emptied, or last channel gone). */
  public record BacklogStarted(long seqNrHint) implements Event {}

  public record TopicPaused(boolean paused) implements Event {}

  /** The topic's settings from here on (the whole of them, after the change). */
  public record TopicConfigured(TopicConfig config) implements Event {}

  public record ChannelAdded(String channel, long startOffset, long startSeqNr) implements Event {}

  public record ChannelRemoved(String channel, long seqNrHint) implements Event {}

  /** The hot event; it has its own compact serializer (MessagesAppendedSerializer). */
  public record MessagesAppended(long firstOffset, List<Published> messages) implements Event {
    public long nextOffset() {
      return firstOffset + messages.size();
    }
  }

  // ---- state ----------------------------------------------------------------------------------
  /** Where a channel starts: its first offset and a journal sequence number at or before it. */
  public record Start(long offset, long seqNr) implements CborSerializable {}

  /**
   * Offsets never go back, not even across delete and re-create, so an old channel cursor can never
   * point into a new topic's messages. {@code backlog} is where the first channel will start.
   */
  public record State(
      boolean exists, boolean paused, long nextOffset, long baseOffset, long messageBytes,
      Start backlog, Map<String, Start> channels, TopicConfig config, StoredIds ids, JournalMarks marks)
      implements CborSerializable {

    public State {
      // A snapshot from before topic settings, dedup ids or journal marks has none.
      if (config == null) config = TopicConfig.DEFAULT;
      if (ids == null) ids = new StoredIds();
      if (marks == null) marks = new JournalMarks();
    }

    static State initial() {
      return new State(false, false, 0, 0, 0, new Start(0, 1), Map.of(), TopicConfig.DEFAULT, new StoredIds(),
          new JournalMarks());
    }

    /** The dedup ids and marks change in place; a snapshot, serialized on another thread, gets a copy. */
    State copy() {
      return new State(exists, paused, nextOffset, baseOffset, messageBytes, backlog, channels, config, ids.copy(),
          marks.copy());
    }

    /** Made (again): no channel, no messages of its own yet; offsets carry on. */
    State created(long seqNrHint) {
      return new State(true, false, nextOffset, nextOffset, 0, new Start(nextOffset, seqNrHint), Map.of(), config, ids, marks);
    }

    /** A deleted topic forgets its settings and ids: a topic made again under its name is a new one. */
    State deleted() {
      return new State(false, false, nextOffset, nextOffset, 0, new Start(nextOffset, backlog.seqNr()), Map.of(),
          TopicConfig.DEFAULT, new StoredIds(), new JournalMarks());
    }

    State appended(long nextOffset, long bytes) {
      return new State(exists, paused, nextOffset, baseOffset, messageBytes + bytes, backlog, channels, config, ids, marks);
    }

    /** From here on, messages wait for the next first channel. */
    State backlogFrom(long seqNrHint) {
      return new State(exists, paused, nextOffset, baseOffset, messageBytes, new Start(nextOffset, seqNrHint),
          channels, config, ids, marks);
    }

    State paused(boolean paused) {
      return new State(exists, paused, nextOffset, baseOffset, messageBytes, backlog, channels, config, ids, marks);
    }

    State configured(TopicConfig config) {
      return new State(exists, paused, nextOffset, baseOffset, messageBytes, backlog, channels, config, ids, marks);
    }

    State channelAdded(String channel, Start start) {
      Map<String, Start> more = new HashMap<>(channels);
      more.put(channel, start);
      return withChannels(Map.copyOf(more));
    }

    /** With no channel left, messages from here on wait for the next first channel. */
    State channelRemoved(String channel, long seqNrHint) {
      Map<String, Start> fewer = new HashMap<>(channels);
      fewer.remove(channel);
      State next = withChannels(Map.copyOf(fewer));
      return fewer.isEmpty() ? next.backlogFrom(seqNrHint) : next;
    }

    private State withChannels(Map<String, Start> channels) {
      return new State(exists, paused, nextOffset, baseOffset, messageBytes, backlog, channels, config, ids, marks);
    }
  }

  // ---- behavior -------------------------------------------------------------------------------
  public static Behavior<Command> create(String name, Settings settings) {
    return create(name, settings, null);
  }

  /** {@code shard}: where to ask to be stopped when idle; null: never. */
  public static Behavior<Command> create(String name, Settings settings, ActorRef<ClusterSharding.ShardCommand> shard) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new Topic(ctx, timers, name, settings, shard)));
  }

  /** A topic that does not exist (a command for an unknown name started it) stops this soon. */
  private static final Duration UNKNOWN_LINGER = Duration.ofSeconds(1);

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final Idleness idleness;
  private final String name;
  private final Settings settings;
  private final boolean ephemeral;
  private final ChannelTable channels;
  private final HeldMessages held;
  // Journal upkeep: what each channel still needs, the deletion of what none does, and snapshots.
  private final ChannelNeeds needs = new ChannelNeeds();
  private final Trimming trimming = new Trimming();
  private final Snapshots snapshots = new Snapshots();
  // Publishes not stored because their dedup id was, since this actor started.
  private long duplicates;
  // Publishes from this node wait here for the next write (set once recovered).
  private final LocalTopics local;
  private TopicInbox inbox;
  // Whether the next write waits for more publishes, and whether the current Drain ends such a wait.
  private final Gathering gathering = new Gathering();
  // Where the journal and the snapshot store answer deletions and snapshots (see StoreAnswer).
  private final org.apache.pekko.actor.ActorRef storeAnswers;

  private Topic(ActorContext<Command> ctx, TimerScheduler<Command> timers, String name, Settings settings,
      ActorRef<ClusterSharding.ShardCommand> shard) {
    super(PersistenceId.ofUniqueId(BrokerEntity.topicId(name)),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(5), 0.2));
    this.ctx = ctx;
    this.timers = timers;
    this.idleness = new Idleness(shard, ctx.getSystem());
    this.name = name;
    this.settings = settings;
    this.ephemeral = Names.isEphemeral(name);
    this.channels = new ChannelTable(ephemeral, channel -> BrokerEntity.channel(ctx.getSystem(), name, channel));
    this.held = new HeldMessages(settings.memQueueSize());
    this.local = LocalTopics.get(ctx.getSystem());
    // Made once: registering it again on every trim and snapshot only replaced it with its like.
    this.storeAnswers = Adapter.toClassic(ctx.messageAdapter(Object.class, StoreAnswer::new));
  }

  public static String persistenceId(String topic) {
    return BrokerEntity.topicId(topic);
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
    // Snapshots shorten recovery of this small state and bound retention (see trim); events are the
    // bodies, so only trim deletes them, below what every channel has consumed. This topic stores
    // its snapshots itself (snapshotIfDue), not through Pekko's retention.
    return RetentionCriteria.disabled();
  }

  @Override
  public SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), state -> {
          snapshots.recovered(lastSequenceNumber(ctx));
          inbox = local.attach(name, ctx.getSelf());
          if (state.exists()) {
            announce(state);
            checkRetentionOverTime(state);
            // Wake every channel so backlogs and deferred messages flow again after a restart.
            state.channels().forEach((channel, start) -> attached(state, channel, start));
          }
          if (idleness.enabled()) {
            timers.startSingleTimer(IdleCheck.INSTANCE, state.exists() ? idleness.nextCheck() : UNKNOWN_LINGER);
          }
        })
        // A failed write restarts this topic (after a back-off, with a recovery that may fail as
        // long as the journal does): meanwhile its node's publishes go through sharding, which
        // finds the topic wherever it runs next.
        .onSignal(PreRestart.instance(), state -> leaveInbox())
        .onSignal(PostStop.instance(), state -> {
          leaveInbox();
          TopicRegistry.ref(ctx.getSystem())
              .tell(new TopicRegistry.TopicRunning(name, ctx.getSelf().<BrokerEntity.Command>unsafeUpcast(), false));
        })
        .build();
  }

  private void leaveInbox() {
    if (inbox != null) local.detach(name, inbox, ctx.getSelf());
    inbox = null;
  }

  /** Tells the registry this topic exists, runs here, and which channels it has. */
  private void announce(State state) {
    if (!state.exists()) return;
    TopicRegistry.ref(ctx.getSystem())
        .tell(new TopicRegistry.Announce(name, channels.all(state), ctx.getSelf().<BrokerEntity.Command>unsafeUpcast()));
  }

  @Override
  public CommandHandler<Command, Event, State> commandHandler() {
    CommandHandler<Command, Event, State> handler = commands();
    return (state, command) -> {
      if (!(command instanceof GetStats || command instanceof IdleCheck || command instanceof RetentionCheck)) {
        idleness.active();
      }
      return handler.apply(state, command);
    };
  }

  private CommandHandler<Command, Event, State> commands() {
    var builder = newCommandHandlerBuilder();
    // Admin needs a topic that exists; a publish or a subscription makes one.
    builder.forState(s -> !s.exists())
        .onCommand(Delete.class, (s, c) -> topicNotFound(c.replyTo()))
        .onCommand(Empty.class, (s, c) -> topicNotFound(c.replyTo()))
        .onCommand(SetPaused.class, (s, c) -> topicNotFound(c.replyTo()))
        .onCommand(Configure.class, (s, c) -> topicNotFound(c.replyTo()))
        .onCommand(ChannelAdmin.class, (s, c) -> topicNotFound(c.replyTo()))
        .onCommand(RewindChannel.class, (s, c) -> topicNotFound(c.replyTo()));
    builder.forAnyState()
        .onCommand(Append.class, this::onAppend)
        .onCommand(Drain.class, (state, cmd) -> onDrain(state))
        .onCommand(Create.class, this::onCreate)
        .onCommand(Delete.class, this::onDelete)
        .onCommand(Empty.class, this::onEmpty)
        .onCommand(SetPaused.class, this::onSetPaused)
        .onCommand(Configure.class, this::onConfigure)
        .onCommand(CreateChannel.class, this::onCreateChannel)
        .onCommand(Located.class, (state, located) -> {
          trimming.readDone();
          Effect<Event, State> effect = onLocated(state, located);
          trim(state);
          return effect;
        })
        .onCommand(ChannelAdmin.class, this::onChannelAdmin)
        .onCommand(ChannelRewound.class, (state, cmd) -> {
          needs.rewound(cmd.channel());
          return Effect().none();
        })
        .onCommand(RewindChannel.class, (state, cmd) -> {
          if (channels.startOf(state, cmd.channel()) == null) {
            return Effect().reply(cmd.replyTo(), StatusReply.error(Errors.CHANNEL_NOT_FOUND));
          }
          locate(state, cmd.to(), cmd);
          return Effect().none();
        })
        .onCommand(Attach.class, this::onAttach)
        .onCommand(ChannelVanished.class, this::onChannelVanished)
        .onCommand(ChannelStopped.class, (state, cmd) -> {
          channels.stopped(cmd.channel(), cmd.ref());
          return Effect().none();
        })
        .onCommand(ChannelAt.class, (state, cmd) -> {
          runsAt(cmd.channel(), cmd.ref());
          if (channels.startOf(state, cmd.channel()) != null) needs.reported(cmd.channel(), cmd.seqNr());
          trim(state);
          return Effect().none();
        })
        .onCommand(RetentionCheck.class, (state, cmd) -> {
          trim(state);
          return Effect().none();
        })
        .onCommand(StoreAnswer.class, (state, cmd) -> {
          storeAnswered(state, cmd.answer());
          return Effect().none();
        })
        .onCommand(GetStats.class, this::onGetStats)
        .onCommand(IdleCheck.class, this::onIdleCheck)
        .onCommand(BrokerEntity.Stop.class, (s, c) -> {
          if (s.exists() && !ephemeral) {
            TopicRegistry.ref(ctx.getSystem()).tell(new TopicRegistry.Park(name, null,
                new TopicRegistry.Summary(s.paused(), depth(s), 0, 0, s.nextOffset() - s.baseOffset(), s.messageBytes())));
          }
          return Effect().stop();
        });
    return builder.build();
  }

  /**
   * A new topic or channel stays in the journal (about 2 KB with its registry entries): below
   * --min-free-space it is refused as a publish is (507 E_DISK_FULL, E_SUB_FAILED), or creating
   * them would eat the reserve FINs and progress need until LevelDB dies of SIGBUS. Null while
   * it may be written (always for an ephemeral topic, which writes nothing). The refusal is an
   * exception, which Pekko cannot send to another node; it never has to: the disk guard runs only
   * with LevelDB, and a LevelDB node is a cluster of one (--join needs --journal postgres).
   */
  private Effect<Event, State> refusedForSpace(ActorRef<StatusReply<Done>> replyTo) {
    String low = ephemeral ? null : NodeDisk.get(ctx.getSystem()).problem();
    return low == null ? null : Effect().reply(replyTo, StatusReply.error(new Publisher.Refused(low)));
  }

  private Effect<Event, State> topicNotFound(ActorRef<StatusReply<Done>> replyTo) {
    return Effect().reply(replyTo, StatusReply.error(Errors.TOPIC_NOT_FOUND));
  }

  /**
   * Stops once idle long enough: no ephemeral channel (they live only here), nothing held for a
   * first channel, no deletion waiting for its answer. A topic that does not exist stops at once;
   * an ephemeral one that does, never (it lives in memory only).
   */
  private Effect<Event, State> onIdleCheck(State state, IdleCheck check) {
    boolean idle = !ephemeral && !channels.anyEphemeral() && held.isEmpty() && !trimming.inFlight();
    if (!state.exists() || (idle && idleness.longEnough())) {
      idleness.passivate(ctx.getSelf());
      return Effect().none();
    }
    // Said again on every check: a registry that moved to another node learns it this way.
    announce(state);
    timers.startSingleTimer(IdleCheck.INSTANCE, idleness.nextCheck());
    return Effect().none();
  }

  private long nextSeqNr() {
    return lastSequenceNumber(ctx) + 1;
  }

  private Effect<Event, State> onAppend(State state, Append cmd) {
    if (System.currentTimeMillis() > cmd.deadline()) {
      // Waited too long (stashed while this topic recovered or moved): its publishers were told
      // it is not stored, so it must never be.
      return Effect().reply(cmd.replyTo(), StatusReply.error(Errors.PUB_EXPIRED));
    }
    Runnable writing = cmd.handedTo() == null ? null : () -> cmd.handedTo().tell(new Writing(cmd.write()));
    return store(state, cmd.messages(), writing, appended -> cmd.replyTo().tell(StatusReply.success(appended)));
  }

  /**
   * Group commit for this node's publishers (see TopicInbox): what waits becomes one write, and
   * each publisher is answered here after it. The next write starts when this one is done.
   */
  private Effect<Event, State> onDrain(State state) {
    if (inbox == null) return Effect().none();
    long now = System.nanoTime();
    if (gathering.waiting()) {
      gathering.ended(inbox.size());
    } else {
      int wanted = gathering.waitFor(inbox.size(), now);
      if (wanted > 0 && inbox.gather(wanted)) {
        gathering.started();
        Gathering.after(gathering.until() - now, inbox::gatherOver);
        return Effect().none();
      }
    }
    GroupCommit.Write<TopicInbox.Waiting> write = inbox.take(System.currentTimeMillis());
    if (write == null) {
      inbox.done();
      return Effect().none();
    }
    long start = System.nanoTime();
    TopicInbox taken = inbox;
    return store(state, write.messages(), null, appended -> {
      local.meters().record(start, write.messages().size());
      gathering.written(write.publishes().size(), taken.size(), start, System.nanoTime());
      taken.done();
      // The answers (each one's response, then a hand-off to its connection) run beside the next write.
      ctx.getExecutionContext().execute(() -> write.answer(appended));
    });
  }

  /**
   * One write of the messages whose dedup id this topic has not stored (see duplicates); then the
   * channels get them and {@code stored} the answer. {@code writing} runs just before the write
   * goes to the journal. If every message is a duplicate nothing is written.
   */
  private Effect<Event, State> store(State state, List<Published> messages, Runnable writing,
      java.util.function.Consumer<Appended> stored) {
    List<Integer> duplicates = duplicates(state, messages);
    List<Published> fresh = messages;
    if (!duplicates.isEmpty()) {
      this.duplicates += duplicates.size();
      fresh = new ArrayList<>(messages.size() - duplicates.size());
      int next = 0;
      for (int i = 0; i < messages.size(); i++) {
        if (next < duplicates.size() && duplicates.get(next) == i) next++;
        else fresh.add(messages.get(i));
      }
    }
    if (fresh.isEmpty()) {
      // Every one already stored (and, being in the state, already written): answered as stored.
      return Effect().none().thenRun(s -> stored.accept(new Appended(s.nextOffset(), 0, duplicates)));
    }
    MessagesAppended appended = new MessagesAppended(state.nextOffset(), fresh);
    List<Event> events = state.exists()
        ? List.of(appended)
        : List.of(new TopicCreated(nextSeqNr()), appended);
    if (writing != null) writing.run();
    return Effect().persist(events)
        .thenRun(s -> {
          if (!state.exists()) announce(s);
          fanOut(s, appended);
          stored.accept(new Appended(appended.firstOffset(), appended.messages().size(), duplicates));
          snapshotIfDue(s);
        });
  }

  /**
   * The positions of the messages whose dedup id this topic stored within its window, or that an
   * earlier message of the same list carries: those are not stored again.
   */
  private List<Integer> duplicates(State state, List<Published> messages) {
    long window = state.config().dedupWindowMs(settings);
    return window <= 0 ? List.of() : state.ids().duplicates(messages, window);
  }

  /** While retention keeps by time, trims a few times per retention period (at most once a second). */
  private void checkRetentionOverTime(State state) {
    long timeMs = state.config().retention(settings).timeMs();
    if (ephemeral || timeMs <= 0) {
      timers.cancel(RetentionCheck.INSTANCE);
      return;
    }
    Duration every = Duration.ofMillis(Math.max(1000, Math.min(timeMs / 4, 60_000)));
    timers.startTimerWithFixedDelay(RetentionCheck.INSTANCE, every);
  }

  private void fanOut(State state, MessagesAppended appended) {
    Channel.Push push = new Channel.Push(lastSequenceNumber(ctx), appended);
    if (channels.none(state)) {
      if (ephemeral) held.hold(push);
      return;
    }
    channels.tellAll(state, push);
  }

  private Effect<Event, State> onCreate(State state, Create cmd) {
    if (state.exists()) return Effect().reply(cmd.replyTo(), StatusReply.ack());
    Effect<Event, State> refused = refusedForSpace(cmd.replyTo());
    if (refused != null) return refused;
    return Effect().persist(new TopicCreated(nextSeqNr()))
        .thenRun(this::announce)
        .thenReply(cmd.replyTo(), s -> StatusReply.ack());
  }

  private Effect<Event, State> onDelete(State state, Delete cmd) {
    List<String> all = channels.all(state);
    return Effect().persist(new TopicDeleted())
        .thenRun(s -> {
          all.forEach(c -> channels.ref(c).tell(new Channel.Delete(null)));
          channels.clearEphemeral();
          needs.clear();
          held.drop();
          TopicRegistry.unregister(ctx.getSystem(), name);
        })
        .thenReply(cmd.replyTo(), s -> StatusReply.ack());
  }

  private Effect<Event, State> onEmpty(State state, Empty cmd) {
    // As in nsqd, emptying a topic drops what waits for a first channel; channels keep theirs.
    return Effect().persist(new BacklogStarted(nextSeqNr()))
        .thenRun(s -> held.drop())
        .thenReply(cmd.replyTo(), s -> StatusReply.ack());
  }

  private Effect<Event, State> onSetPaused(State state, SetPaused cmd) {
    // Nothing to change, nothing written: unpause is let through below --min-free-space (HttpApi), so a loop of them must not write.
    if (state.paused() == cmd.paused()) return Effect().reply(cmd.replyTo(), StatusReply.ack());
    return Effect().persist(new TopicPaused(cmd.paused()))
        .thenRun(s -> channels.tellAll(s, new Channel.TopicPaused(cmd.paused())))
        .thenReply(cmd.replyTo(), s -> StatusReply.ack());
  }

  private Effect<Event, State> onConfigure(State state, Configure cmd) {
    TopicConfig config = state.config().with(cmd.changes());
    if (config.equals(state.config())) return Effect().reply(cmd.replyTo(), StatusReply.ack());
    return Effect().persist(new TopicConfigured(config))
        .thenRun(s -> {
          checkRetentionOverTime(s);
          trim(s);
        })
        .thenReply(cmd.replyTo(), s -> StatusReply.ack());
  }

  private Effect<Event, State> onCreateChannel(State state, CreateChannel cmd) {
    if (!state.exists() && !cmd.createTopic()) return topicNotFound(cmd.replyTo());
    if (channels.startOf(state, cmd.channel()) != null) return Effect().reply(cmd.replyTo(), StatusReply.ack());
    // A topic made here has nothing to start from but its end.
    if (cmd.from() != null && state.exists()) {
      locate(state, cmd.from(), cmd);
      return Effect().none();
    }
    return createChannel(state, cmd, null);
  }

  /** {@code start}: where it starts; null for the default (the backlog for a first durable channel, else the end). */
  private Effect<Event, State> createChannel(State state, CreateChannel cmd, Start start) {
    String channel = cmd.channel();
    if (!state.exists() && !cmd.createTopic()) return topicNotFound(cmd.replyTo());
    if (channels.startOf(state, channel) != null) return Effect().reply(cmd.replyTo(), StatusReply.ack());
    // An ephemeral channel too: the topic writes nothing for it, but the registry names it in its journal.
    Effect<Event, State> refused = refusedForSpace(cmd.replyTo());
    if (refused != null) return refused;
    if (start == null) start = defaultStart(state);
    List<Event> events = new ArrayList<>();
    if (!state.exists()) events.add(new TopicCreated(nextSeqNr()));
    if (Names.isEphemeral(channel)) {
      if (events.isEmpty()) {
        addEphemeral(state, channel, start);
        announce(state);
        return Effect().reply(cmd.replyTo(), StatusReply.ack());
      }
      return Effect().persist(events)
          .thenRun(s -> {
            addEphemeral(s, channel, end(s));
            announce(s);
          })
          .thenReply(cmd.replyTo(), s -> StatusReply.ack());
    }
    events.add(new ChannelAdded(channel, start.offset(), start.seqNr()));
    return Effect().persist(events)
        .thenRun(s -> {
          announce(s);
          attached(s, channel, s.channels().get(channel));
        })
        .thenReply(cmd.replyTo(), s -> StatusReply.ack());
  }

  private Start defaultStart(State state) {
    // A topic made here has no backlog yet: start at its end, not at a deleted topic's old backlog.
    return channels.keepBacklog(state) && state.exists() ? state.backlog() : end(state);
  }

  /** The topic's end: the next message, in the next journal write. */
  private Start end(State state) {
    return new Start(state.nextOffset(), nextSeqNr());
  }

  /** Finds where {@code from} is in the journal (StartSearch), then hands {@code request} back with it (Located). */
  private void locate(State state, ReplayFrom from, Command request) {
    if (from.where() == ReplayFrom.Where.LATEST || ephemeral) {
      ctx.getSelf().tell(new Located(request, null, null));
      return;
    }
    long fromSeqNr = StartSearch.readFrom(state.marks(), from, trimming.firstKept());
    trimming.readStarted();
    ctx.pipeToSelf(StartSearch.find(ctx.getSystem(), persistenceId().id(), fromSeqNr, from, state.baseOffset()),
        (found, failure) -> new Located(request, found == null ? null : found.orElse(null), failure));
  }

  private Effect<Event, State> onLocated(State state, Located located) {
    ActorRef<StatusReply<Done>> replyTo = located.request() instanceof CreateChannel c ? c.replyTo()
        : ((RewindChannel) located.request()).replyTo();
    if (located.failure() != null) {
      ctx.getLog().warn("topic {}: reading its journal to find where a channel starts failed", name, located.failure());
      return Effect().reply(replyTo, StatusReply.error(Errors.JOURNAL_READ_FAILED));
    }
    Start start = located.start() != null ? located.start() : end(state);
    if (located.request() instanceof CreateChannel c) return createChannel(state, c, start);
    String channel = ((RewindChannel) located.request()).channel();
    if (channels.startOf(state, channel) == null) return Effect().reply(replyTo, StatusReply.error(Errors.CHANNEL_NOT_FOUND));
    // From now on the channel needs the journal from here: nothing there is deleted before it says otherwise.
    needs.rewinding(channel, start.seqNr());
    channels.ref(channel).tell(new Channel.Rewind(start, replyTo));
    return Effect().none();
  }

  private void addEphemeral(State state, String channel, Start start) {
    channels.addEphemeral(channel, start);
    attached(state, channel, start);
  }

  private Effect<Event, State> onChannelAdmin(State state, ChannelAdmin cmd) {
    String channel = cmd.channel();
    if (channels.startOf(state, channel) == null) return Effect().reply(cmd.replyTo(), StatusReply.error(Errors.CHANNEL_NOT_FOUND));
    boolean durable = state.channels().containsKey(channel);
    return switch (cmd.op()) {
      case DELETE -> removeChannel(state, channel, durable, cmd.replyTo());
      case EMPTY -> {
        channels.ref(channel).tell(new Channel.EmptyUpTo(state.nextOffset(), nextSeqNr(), cmd.replyTo()));
        yield Effect().none();
      }
      case PAUSE, UNPAUSE -> {
        channels.ref(channel).tell(new Channel.SetPaused(cmd.op() == ChannelOp.PAUSE, cmd.replyTo()));
        yield Effect().none();
      }
      case CONFIGURE -> {
        channels.ref(channel).tell(new Channel.Configure(cmd.config(), cmd.replyTo()));
        yield Effect().none();
      }
    };
  }

  private Effect<Event, State> removeChannel(
      State state, String channel, boolean durable, ActorRef<StatusReply<Done>> replyTo) {
    if (!durable) channels.removeEphemeral(channel);
    boolean lastGone = durable ? !channels.anyEphemeral() && state.channels().size() == 1 : channels.none(state);
    // An ephemeral topic vanishes with its last channel.
    boolean vanish = ephemeral && lastGone;
    List<Event> events = new ArrayList<>();
    // The last durable channel gone, messages wait for the next one; an ephemeral one leaves the backlog as it was.
    if (durable) events.add(new ChannelRemoved(channel, nextSeqNr()));
    if (vanish) events.add(new TopicDeleted());
    needs.forget(channel);
    EffectBuilder<Event, State> effect = events.isEmpty() ? Effect().none() : Effect().persist(events);
    effect = effect.thenRun(s -> channels.ref(channel).tell(new Channel.Delete(replyTo)));
    if (!vanish) return effect.thenRun(this::announce).thenRun(this::trim);
    return effect.thenRun(s -> TopicRegistry.unregister(ctx.getSystem(), name)).thenStop();
  }

  private Effect<Event, State> onChannelVanished(State state, ChannelVanished cmd) {
    if (!channels.isEphemeral(cmd.channel())) return Effect().none();
    return removeChannel(state, cmd.channel(), false, null);
  }

  /**
   * Deletes the events no channel needs any more and retention does not keep: below every channel's
   * reported position (or its start, until it reports), below where a first durable channel would
   * start while there is none, below what retention keeps by time and size. Never
   * past the second-last snapshot written in this run: this topic's own recovery replays the events
   * after its snapshot, and if the last snapshot cannot be read the store falls back to the one before.
   */
  private void trim(State state) {
    long now = System.nanoTime();
    if (ephemeral || !state.exists() || !trimming.mayStart(now)) return;
    long low = channels.keepBacklog(state) ? state.backlog().seqNr() : Long.MAX_VALUE;
    low = needs.lowest(channels.ephemeral(), needs.lowest(state.channels(), low));
    RetentionStats retention = state.config().retention(settings);
    long kept = state.marks().keptFrom(System.currentTimeMillis(), retention.timeMs(), retention.bytes(), state.messageBytes());
    long upTo = trimming.start(Math.min(low, kept), snapshots.beforeLast(), now);
    if (upTo < 0) return;
    Persistence.get(Adapter.toClassic(ctx.getSystem())).journalFor(journalPluginId(), ConfigFactory.empty())
        .tell(new JournalProtocol.DeleteMessagesTo(persistenceId().id(), upTo, storeAnswers),
            org.apache.pekko.actor.ActorRef.noSender());
  }

  /**
   * Stores a snapshot of {@code state} (as of the last journal write) when one is due (Snapshots),
   * beside the writes that follow. Pekko's own snapshots (RetentionCriteria) hold every command and
   * the write's answers until the snapshot store has the state: 30-57 ms of every publish every
   * 1,000 writes (docs/performance.md). One lost to a crash leaves recovery the snapshot before it
   * and the events after that (trim never deletes those).
   */
  private void snapshotIfDue(State state) {
    long seqNr = lastSequenceNumber(ctx);
    if (ephemeral || !snapshots.due(seqNr)) return;
    // A copy: the dedup ids and marks change in place, and the store serializes them on its own thread.
    snapshotStore().tell(new SnapshotProtocol.SaveSnapshot(
        new SnapshotMetadata(persistenceId().id(), seqNr, System.currentTimeMillis()), state.copy()), storeAnswers);
  }

  /** The journal's answer to a deletion (trim), or the snapshot store's to a snapshot or its deletion. */
  private void storeAnswered(State state, Object answer) {
    if (answer instanceof DeleteMessagesSuccess success) {
      trimming.deleted(success.toSequenceNr());
      state.marks().deleted(success.toSequenceNr());
      ctx.getLog().debug("topic {}: deleted the events every channel is done with, up to write {}",
          name, success.toSequenceNr());
    } else if (answer instanceof DeleteMessagesFailure failure) {
      trimming.failed();
      ctx.getLog().warn("deleting consumed events of topic {} up to {} failed; trying again later",
          name, failure.toSequenceNr(), failure.cause());
    } else if (answer instanceof SaveSnapshotSuccess success) {
      if (!snapshots.saved(success.metadata().sequenceNr())) return;
      // Two are kept: recovery falls back to the one before the last if the last cannot be read.
      long beforeLast = snapshots.beforeLast();
      if (beforeLast > 0) {
        snapshotStore().tell(new SnapshotProtocol.DeleteSnapshots(persistenceId().id(),
            new SnapshotSelectionCriteria(beforeLast - 1, Long.MAX_VALUE, 0, 0)), storeAnswers);
      }
      trim(state);
    } else if (answer instanceof SaveSnapshotFailure failure) {
      snapshots.failed();
      ctx.getLog().warn("topic {}: storing a snapshot at write {} failed; the next one is due at write {}",
          name, failure.metadata().sequenceNr(), snapshots.nextDue(), failure.cause());
    } else if (answer instanceof DeleteSnapshotsFailure failure) {
      ctx.getLog().debug("topic {}: deleting old snapshots failed; the next snapshot tries again", name, failure.cause());
    }
  }

  private org.apache.pekko.actor.ActorRef snapshotStore() {
    return Persistence.get(Adapter.toClassic(ctx.getSystem())).snapshotStoreFor(snapshotPluginId(), ConfigFactory.empty());
  }

  private Effect<Event, State> onAttach(State state, Attach cmd) {
    runsAt(cmd.channel(), cmd.ref());
    Start start = channels.startOf(state, cmd.channel());
    if (start == null) {
      channels.ref(cmd.channel()).tell(new Channel.Attached(false, null, 0, 0, false, List.of()));
    } else {
      attached(state, cmd.channel(), start);
    }
    return Effect().none();
  }

  private void attached(State state, String channel, Start start) {
    channels.ref(channel).tell(new Channel.Attached(
        true, start, state.nextOffset(), lastSequenceNumber(ctx), state.paused(), held.takeAll()));
  }

  /** Messages kept for a first durable channel (none once there is one). */
  private long depth(State state) {
    return !channels.keepBacklog(state) ? 0 : ephemeral ? held.count() : state.nextOffset() - state.backlog().offset();
  }

  private Effect<Event, State> onGetStats(State state, GetStats cmd) {
    DedupStats dedup = new DedupStats(state.config().dedupWindowMs(settings), state.ids().size(), duplicates, state.ids().forgottenEarly());
    cmd.replyTo().tell(new TopicStats(name, state.exists(), state.paused(), depth(state),
        state.nextOffset() - state.baseOffset(), state.messageBytes(), channels.all(state), settings.advertisedHttp(), trimming.deletedTo(), dedup,
        state.config().retention(settings)));
    return Effect().none();
  }

  private void runsAt(String channel, ActorRef<Channel.Command> ref) {
    if (channels.runsAt(channel, ref)) ctx.watchWith(ref, new ChannelStopped(channel, ref));
  }

  // ---- events applied -------------------------------------------------------------------------
  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(MessagesAppended.class, (s, e) -> {
          long bytes = 0;
          long window = s.config().dedupWindowMs(settings);
          for (Published p : e.messages()) {
            bytes += p.body().length();
            if (p.dedupId() != null) s.ids().add(p.dedupId(), p.timestamp(), window, settings.dedupMaxIds());
          }
          // Here (replay or write) the last sequence number is this event's own.
          s.marks().written(lastSequenceNumber(ctx), e.firstOffset(), e.messages().get(0).timestamp(), s.messageBytes());
          return s.appended(e.nextOffset(), bytes);
        })
        .onEvent(TopicCreated.class, (s, e) -> s.created(e.seqNrHint()))
        .onEvent(TopicDeleted.class, (s, e) -> s.deleted())
        .onEvent(BacklogStarted.class, (s, e) -> s.backlogFrom(e.seqNrHint()))
        .onEvent(TopicPaused.class, (s, e) -> s.paused(e.paused()))
        .onEvent(TopicConfigured.class, (s, e) -> s.configured(e.config()))
        .onEvent(ChannelAdded.class, (s, e) -> s.channelAdded(e.channel(), new Start(e.startOffset(), e.startSeqNr())))
        .onEvent(ChannelRemoved.class, (s, e) -> s.channelRemoved(e.channel(), e.seqNrHint()))
        .build();
  }
}
