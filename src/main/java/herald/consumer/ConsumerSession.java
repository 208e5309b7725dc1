package herald.consumer;

import herald.broker.BrokerEntity;
import herald.broker.Channel;
import herald.broker.ClientInfo;
import herald.broker.ConsumerProtocol;
import herald.broker.ReplayFrom;
import herald.broker.Topic;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.http.javadsl.model.ws.Message;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeoutException;

/**
 * One consumer on this node, whatever its protocol (WebSocket, NSQ TCP): turns client commands
 * into channel commands and channel deliveries into frames (through its {@link ConsumerOutput}).
 * The channel may live on any node. Once subscribed, both sides talk directly and watch each
 * other: when the connection goes away the channel takes back what this consumer held; when the
 * channel moves or restarts this session subscribes again.
 */
public final class ConsumerSession extends AbstractBehavior<ConsumerProtocol> {

  /**
   * {@code binary} is the WebSocket's message format; {@code client} what the client said of itself;
   * {@code from} where the channel starts if this subscription makes it (null: the default).
   */
  public record Params(
      String topic, String channel, String clientId, String remoteAddress, long msgTimeoutMs,
      boolean binary, long maxRdyCount, ClientInfo client, ReplayFrom from) {
    public Params(String topic, String channel, String clientId, String remoteAddress, long msgTimeoutMs,
        boolean binary, long maxRdyCount) {
      this(topic, channel, clientId, remoteAddress, msgTimeoutMs, binary, maxRdyCount, ClientInfo.webSocket(remoteAddress));
    }

    public Params(String topic, String channel, String clientId, String remoteAddress, long msgTimeoutMs,
        boolean binary, long maxRdyCount, ClientInfo client) {
      this(topic, channel, clientId, remoteAddress, msgTimeoutMs, binary, maxRdyCount, client, null);
    }
  }

  /** A complete WebSocket frame from the client (text, or binary which the protocol does not allow). */
  public record FromClient(String text, boolean binary) implements ConsumerProtocol {}

  /** A client frame longer than {@code limit} characters: not read further. */
  public record FrameTooBig(long limit) implements ConsumerProtocol {}
  /** Commands another protocol has parsed already (NSQ TCP), in the client's order. */
  public record Commands(List<Frames.ClientCommand> commands) implements ConsumerProtocol {}

  /**
   * Sent after commands whose answers a fatal error must follow: {@link ConsumerOutput#answered()}
   * once the session has given the answers it gives itself to everything before (SUB's OK, CLS's
   * CLOSE_WAIT). Answers the channel decides later (E_FIN_FAILED and friends) are not waited for.
   */
  public enum Barrier implements ConsumerProtocol { INSTANCE }

  /** The socket closed or failed. */
  public record ClientGone() implements ConsumerProtocol {}

  private record Joined(Throwable failure) implements ConsumerProtocol {}

  private record ChannelLost(ActorRef<Channel.Command> channel) implements ConsumerProtocol {}

  private enum RetrySubscribe implements ConsumerProtocol { INSTANCE }

  private enum RetryJoin implements ConsumerProtocol { INSTANCE }

  /**
   * One try at creating the topic and channel. While the topic's node is being replaced (a failover
   * takes 10-15 s) a try sent to the dead node goes unanswered; the session tries again until
   * {@link #JOIN_DEADLINE} instead of refusing, because a refused client may not come back soon
   * (nsqjs reconnects only every lookupdPollInterval, 60 s by default).
   */
  private static final Duration JOIN_TRY = Duration.ofSeconds(5);
  private static final Duration JOIN_DEADLINE = Duration.ofSeconds(30);

  /**
   * Right after a node dies, sharding may still route to it and drop the Subscribe: it is sent
   * again until the channel answers.
   */
  private static final Duration SUBSCRIBE_RETRY = Duration.ofSeconds(2);

  /**
   * The longest client frame read: room for a frame of FINs for every message a consumer may hold,
   * above max-msg-size. A longer frame is refused, never buffered whole.
   */
  public static long maxFrameSize(int maxMsgSize, int maxRdyCount) {
    return maxMsgSize + 32L * maxRdyCount;
  }
  /** Sent to the outgoing source to complete it, which closes the socket. */
  public static final Message END = WebSocketOutput.END;

  /** A WebSocket consumer. */
  public static Behavior<ConsumerProtocol> create(Params params, ActorRef<Message> out) {
    return create(params, new WebSocketOutput(out, params.binary()));
  }

  public static Behavior<ConsumerProtocol> create(Params params, ConsumerOutput out) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new ConsumerSession(ctx, timers, params, out)));
  }

  private final TimerScheduler<ConsumerProtocol> timers;
  private final Params params;
  private final ConsumerOutput out;
  private final List<ConsumerProtocol> early = new ArrayList<>();
  private ActorRef<Channel.Command> channel;
  private long ready;
  private boolean greeted;
  private final long joinDeadline = System.nanoTime() + JOIN_DEADLINE.toNanos();

  private ConsumerSession(
      ActorContext<ConsumerProtocol> ctx, TimerScheduler<ConsumerProtocol> timers, Params params, ConsumerOutput out) {
    super(ctx);
    this.timers = timers;
    this.params = params;
    this.out = out;
    join();
  }

  /** Subscribing creates the topic and the channel. */
  private void join() {
    getContext().askWithStatus(Done.class, BrokerEntity.topic(getContext().getSystem(), params.topic()), JOIN_TRY,
        replyTo -> new Topic.CreateChannel(params.channel(), true, params.from(), replyTo),
        (done, failure) -> new Joined(failure));
  }

  @Override
  public Receive<ConsumerProtocol> createReceive() {
    return newReceiveBuilder()
        .onMessage(Joined.class, this::onJoined)
        .onMessage(ConsumerProtocol.Subscribed.class, this::onSubscribed)
        .onMessage(ChannelLost.class, this::onChannelLost)
        .onMessage(RetryJoin.class, r -> {
          if (nodeStopping()) return goElsewhere();
          join();
          return this;
        })
        .onMessage(RetrySubscribe.class, r -> {
          if (channel == null && nodeStopping()) return goElsewhere();
          if (channel == null) sendSubscribe();
          return this;
        })
        .onMessage(FromClient.class, this::onFrame)
        .onMessage(FrameTooBig.class, f -> fatal("E_INVALID", "frame longer than " + f.limit() + " characters"))
        .onMessage(Commands.class, this::onCommands)
        .onMessageEquals(Barrier.INSTANCE, this::onBarrier)
        .onMessage(ConsumerProtocol.Deliver.class, d -> {
          out.deliver(d.messages());
          return this;
        })
        .onMessage(ConsumerProtocol.Failed.class, f -> {
          out.failed(f.code(), f.message());
          return this;
        })
        .onMessage(ConsumerProtocol.Close.class, c -> gone(c.reason()))
        .onMessage(ClientGone.class, g -> {
          if (channel != null) channel.tell(new Channel.Unsubscribe(getContext().getSelf()));
          out.end();
          return Behaviors.stopped();
        })
        .build();
  }

  private Behavior<ConsumerProtocol> onJoined(Joined j) {
    if (j.failure() instanceof TimeoutException && System.nanoTime() < joinDeadline) {
      // Unanswered (the topic's node may be gone): the next try finds the topic where sharding puts it now.
      timers.startSingleTimer(RetryJoin.INSTANCE, Duration.ofMillis(200));
      return this;
    }
    if (j.failure() != null) return fatal("E_SUB_FAILED", "could not subscribe: " + j.failure().getMessage());
    subscribe();
    return this;
  }

  private void subscribe() {
    sendSubscribe();
    timers.startTimerWithFixedDelay(RetrySubscribe.INSTANCE, SUBSCRIBE_RETRY);
  }

  private void sendSubscribe() {
    BrokerEntity.channel(getContext().getSystem(), params.topic(), params.channel()).tell(new Channel.Subscribe(
        getContext().getSelf(), params.clientId(), params.remoteAddress(), params.msgTimeoutMs(), params.client()));
  }

  private Behavior<ConsumerProtocol> onSubscribed(ConsumerProtocol.Subscribed s) {
    getContext().getLog().debug("subscribed to {}", s.channel());
    timers.cancel(RetrySubscribe.INSTANCE);
    if (channel != null && channel.equals(s.channel())) return this;
    channel = s.channel();
    getContext().watchWith(channel, new ChannelLost(channel));
    if (!greeted) out.subscribed(params.topic(), params.channel());
    greeted = true;
    if (ready > 0) channel.tell(new Channel.Ready(getContext().getSelf(), ready));
    for (ConsumerProtocol f : early) {
      Behavior<ConsumerProtocol> next = f instanceof FromClient text ? onFrame(text)
          : f instanceof Commands commands ? onCommands(commands) : onBarrier();
      if (next != this) return next;
    }
    early.clear();
    return this;
  }

  /** The channel stopped (moved to another node, or restarted): subscribe again, keep RDY. */
  private Behavior<ConsumerProtocol> onChannelLost(ChannelLost lost) {
    getContext().getLog().debug("channel {} of {}/{} lost; subscribing again", lost.channel(), params.topic(), params.channel());
    if (!lost.channel().equals(channel)) return this;
    channel = null;
    if (nodeStopping()) return goElsewhere();
    subscribe();
    return this;
  }

  private boolean nodeStopping() {
    return BrokerEntity.nodeStopping(getContext().getSystem());
  }

  /**
   * This node is stopping and handing its channels off: the client is closed and goes to another
   * node. A Subscribe sent now would wait in the stopping shard region for the channel's new home,
   * holding the node's stop up until Pekko's phase timeout.
   */
  private Behavior<ConsumerProtocol> goElsewhere() {
    out.end();
    return Behaviors.stopped();
  }

  private Behavior<ConsumerProtocol> onFrame(FromClient frame) {
    if (channel == null) {
      early.add(frame);
      return this;
    }
    if (frame.binary()) return fatal("E_INVALID", "binary frames are not commands");
    try {
      return onCommands(new Commands(Frames.parseAll(frame.text())));
    } catch (Frames.InvalidFrame e) {
      return fatal("E_INVALID", e.getMessage());
    }
  }

  private Behavior<ConsumerProtocol> onBarrier() {
    if (channel == null) {
      early.add(Barrier.INSTANCE);
    } else {
      out.answered();
    }
    return this;
  }

  private Behavior<ConsumerProtocol> onCommands(Commands received) {
    if (channel == null) {
      early.add(received);
      return this;
    }
    List<Frames.ClientCommand> commands = received.commands();
    // The FINs of a frame travel to the channel as one message; other commands keep their order.
    long[] fins = new long[commands.size()];
    int finCount = 0;
    for (Frames.ClientCommand cmd : commands) {
      if (cmd instanceof Frames.Fin f) {
        fins[finCount++] = f.offset();
        continue;
      }
      finCount = finish(fins, finCount);
      if (cmd instanceof Frames.Fins run) {
        channel.tell(new Channel.Finish(getContext().getSelf(), run.offsets()));
        continue;
      }
      Behavior<ConsumerProtocol> next = onCommand(cmd);
      if (next != this) return next;
    }
    finish(fins, finCount);
    return this;
  }

  private int finish(long[] offsets, int count) {
    if (count > 0) channel.tell(new Channel.Finish(getContext().getSelf(), Arrays.copyOf(offsets, count)));
    return 0;
  }

  private Behavior<ConsumerProtocol> onCommand(Frames.ClientCommand cmd) {
    ActorRef<ConsumerProtocol> self = getContext().getSelf();
    if (cmd instanceof Frames.Rdy r) {
      if (r.count() < 0 || r.count() > params.maxRdyCount()) {
        return fatal("E_INVALID", "RDY count " + r.count() + " out of range 0-" + params.maxRdyCount());
      }
      ready = r.count();
      channel.tell(new Channel.Ready(self, r.count()));
    } else if (cmd instanceof Frames.Req r) {
      channel.tell(new Channel.Requeue(self, r.offset(), r.delayMs()));
    } else if (cmd instanceof Frames.Touch t) {
      channel.tell(new Channel.Touch(self, t.offset()));
    } else if (cmd instanceof Frames.Cls) {
      // As nsqd: no new messages; the client finishes what it holds and closes.
      ready = 0;
      channel.tell(new Channel.Ready(self, 0));
      out.closeWait();
    }
    return this;
  }

  private Behavior<ConsumerProtocol> fatal(String code, String message) {
    getContext().getLog().debug("closing consumer of {}/{}: {} {}", params.topic(), params.channel(), code, message);
    out.fatal(code, message);
    return leave();
  }

  private Behavior<ConsumerProtocol> gone(String reason) {
    getContext().getLog().debug("closing consumer of {}/{}: {}", params.topic(), params.channel(), reason);
    out.channelGone(reason);
    return leave();
  }

  private Behavior<ConsumerProtocol> leave() {
    if (channel != null) channel.tell(new Channel.Unsubscribe(getContext().getSelf()));
    return Behaviors.stopped();
  }
}
