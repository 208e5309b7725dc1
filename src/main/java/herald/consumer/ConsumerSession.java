package herald.consumer;

import herald.broker.BrokerEntity;
import herald.broker.Channel;
import herald.broker.ConsumerProtocol;
import herald.broker.Topic;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.http.javadsl.model.ws.BinaryMessage;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.TextMessage;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One WebSocket consumer on this node: turns client frames into channel commands and channel
 * deliveries into frames. The channel may live on any node. Once subscribed, both sides talk
 * directly and watch each other: when the socket goes away the channel takes back what this
 * consumer held; when the channel moves or restarts this session subscribes again.
 */
public final class ConsumerSession extends AbstractBehavior<ConsumerProtocol> {

  public record Params(
      String topic, String channel, String clientId, String remoteAddress, long msgTimeoutMs,
      boolean binary, long maxRdyCount) {}

  /** A complete frame from the client (text, or binary which the protocol does not allow). */
  public record FromClient(String text, boolean binary) implements ConsumerProtocol {}

  /** A client frame longer than {@code limit} characters: not read further. */
  public record FrameTooBig(long limit) implements ConsumerProtocol {}

  /** The socket closed or failed. */
  public record ClientGone() implements ConsumerProtocol {}

  private record Joined(Throwable failure) implements ConsumerProtocol {}

  private record ChannelLost(ActorRef<Channel.Command> channel) implements ConsumerProtocol {}

  private enum RetrySubscribe implements ConsumerProtocol { INSTANCE }

  /**
   * Right after a node dies, sharding may still route to it and drop the Subscribe: it is sent
   * again until the channel answers.
   */
  private static final Duration SUBSCRIBE_RETRY = Duration.ofSeconds(2);

  /** A binary WebSocket message holds messages up to this size (or one bigger message). */
  static final int BINARY_MESSAGE_BYTES = 256 * 1024;

  /**
   * The longest client frame read: room for a frame of FINs for every message a consumer may hold,
   * above max-msg-size. A longer frame is refused, never buffered whole.
   */
  public static long maxFrameSize(int maxMsgSize, int maxRdyCount) {
    return maxMsgSize + 32L * maxRdyCount;
  }

  /** Sent to the outgoing source to complete it, which closes the socket. */
  public static final Message END = TextMessage.create("");

  public static Behavior<ConsumerProtocol> create(Params params, ActorRef<Message> out) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new ConsumerSession(ctx, timers, params, out)));
  }

  private final TimerScheduler<ConsumerProtocol> timers;
  private final Params params;
  private final ActorRef<Message> out;
  private final List<FromClient> early = new ArrayList<>();
  private ActorRef<Channel.Command> channel;
  private long ready;
  private boolean greeted;

  private ConsumerSession(
      ActorContext<ConsumerProtocol> ctx, TimerScheduler<ConsumerProtocol> timers, Params params, ActorRef<Message> out) {
    super(ctx);
    this.timers = timers;
    this.params = params;
    this.out = out;
    // Subscribing creates the topic and the channel.
    ctx.askWithStatus(Done.class, BrokerEntity.topic(ctx.getSystem(), params.topic()), Duration.ofSeconds(10),
        replyTo -> new Topic.CreateChannel(params.channel(), true, replyTo),
        (done, failure) -> new Joined(failure));
  }

  @Override
  public Receive<ConsumerProtocol> createReceive() {
    return newReceiveBuilder()
        .onMessage(Joined.class, this::onJoined)
        .onMessage(ConsumerProtocol.Subscribed.class, this::onSubscribed)
        .onMessage(ChannelLost.class, this::onChannelLost)
        .onMessage(RetrySubscribe.class, r -> {
          if (channel == null) sendSubscribe();
          return this;
        })
        .onMessage(FromClient.class, this::onFrame)
        .onMessage(FrameTooBig.class, f -> fatal("E_INVALID", "frame longer than " + f.limit() + " characters"))
        .onMessage(ConsumerProtocol.Deliver.class, this::onDeliver)
        .onMessage(ConsumerProtocol.Failed.class, f -> {
          out.tell(TextMessage.create(Frames.error(f.code(), f.message())));
          return this;
        })
        .onMessage(ConsumerProtocol.Close.class, c -> fatal("E_CHANNEL_GONE", c.reason()))
        .onMessage(ClientGone.class, g -> {
          if (channel != null) channel.tell(new Channel.Unsubscribe(getContext().getSelf()));
          out.tell(END);
          return Behaviors.stopped();
        })
        .build();
  }

  private Behavior<ConsumerProtocol> onJoined(Joined j) {
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
        getContext().getSelf(), params.clientId(), params.remoteAddress(), params.msgTimeoutMs()));
  }

  private Behavior<ConsumerProtocol> onSubscribed(ConsumerProtocol.Subscribed s) {
    getContext().getLog().debug("subscribed to {}", s.channel());
    timers.cancel(RetrySubscribe.INSTANCE);
    if (channel != null && channel.equals(s.channel())) return this;
    channel = s.channel();
    getContext().watchWith(channel, new ChannelLost(channel));
    if (!greeted) out.tell(TextMessage.create(Frames.subscribed(params.topic(), params.channel())));
    greeted = true;
    if (ready > 0) channel.tell(new Channel.Ready(getContext().getSelf(), ready));
    for (FromClient f : early) {
      Behavior<ConsumerProtocol> next = onFrame(f);
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
    subscribe();
    return this;
  }

  private Behavior<ConsumerProtocol> onFrame(FromClient frame) {
    if (channel == null) {
      early.add(frame);
      return this;
    }
    if (frame.binary()) return fatal("E_INVALID", "binary frames are not commands");
    List<Frames.ClientCommand> commands;
    try {
      commands = Frames.parseAll(frame.text());
    } catch (Frames.InvalidFrame e) {
      return fatal("E_INVALID", e.getMessage());
    }
    // The FINs of a frame travel to the channel as one message; other commands keep their order.
    long[] fins = new long[commands.size()];
    int finCount = 0;
    for (Frames.ClientCommand cmd : commands) {
      if (cmd instanceof Frames.Fin f) {
        fins[finCount++] = f.offset();
        continue;
      }
      finCount = finish(fins, finCount);
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
      out.tell(TextMessage.create(Frames.closeWait()));
    }
    return this;
  }

  private Behavior<ConsumerProtocol> onDeliver(ConsumerProtocol.Deliver d) {
    if (!params.binary()) {
      for (ConsumerProtocol.Delivery m : d.messages()) out.tell(TextMessage.create(Frames.message(m)));
      return this;
    }
    // Binary: NSQ frames back to back, as many per WebSocket message as fit in BINARY_MESSAGE_BYTES.
    List<ConsumerProtocol.Delivery> part = new ArrayList<>();
    long bytes = 0;
    for (ConsumerProtocol.Delivery m : d.messages()) {
      long size = Frames.FRAME_OVERHEAD + m.body().length();
      if (!part.isEmpty() && bytes + size > BINARY_MESSAGE_BYTES) {
        out.tell(BinaryMessage.create(Frames.binaryFrames(part)));
        part = new ArrayList<>();
        bytes = 0;
      }
      part.add(m);
      bytes += size;
    }
    if (!part.isEmpty()) out.tell(BinaryMessage.create(Frames.binaryFrames(part)));
    return this;
  }

  private Behavior<ConsumerProtocol> fatal(String code, String message) {
    getContext().getLog().debug("closing consumer of {}/{}: {} {}", params.topic(), params.channel(), code, message);
    out.tell(TextMessage.create(Frames.error(code, message)));
    out.tell(END);
    if (channel != null) channel.tell(new Channel.Unsubscribe(getContext().getSelf()));
    return Behaviors.stopped();
  }
}
