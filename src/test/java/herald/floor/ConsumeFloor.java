package herald.floor;

import herald.broker.MessageId;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.Tcp;
import org.apache.pekko.stream.typed.javadsl.ActorSink;
import org.apache.pekko.stream.typed.javadsl.ActorSource;
import org.apache.pekko.util.ByteString;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The floor of Herald's mandated stack for consuming while publishing (PubFloor's {@code consume}
 * mode; not a test, not part of the node): what a channel costs per message with the least work
 * the stack asks for, beside the {@code tellbatch} write path it is fed from.
 *
 * <ul>
 *   <li>Each topic write, once Pekko Persistence has it on disk, is handed on in memory to one
 *       channel actor (Herald's live path: no read-back while the channel keeps up). The channel
 *       splits each {@code /mpub} body into its messages and numbers them.
 *   <li>The channel is an EventSourcedBehavior on the same LevelDB journal: every 100 ms that its
 *       cursor (the lowest offset not finished) moved, it persists it (fsync on), and Pekko stashes
 *       its commands while that write is out, as it does Herald's.
 *   <li>Consumers are NSQ TCP connections on pekko-streams TCP, Herald's shape: a decoder stage
 *       feeding a connection actor with backpressure (ActorSink), and an ActorSource of the frames
 *       it writes, gathered up to 64 KiB while the socket is busy. The connection actor turns RDY
 *       and FIN into channel commands and the channel's runs of messages into nsqd's frames.
 * </ul>
 *
 * Left out, each Herald's own (so the floor is below what any full channel can do): per-message
 * timeouts and requeues, attempts, which consumer holds which message, deferrals, the topic's
 * trims of consumed writes, reading back from the journal (the ready buffer grows in memory
 * instead, up to a million messages; beyond that it drops and says so in its log), cluster sharding,
 * stats. A consumer that goes keeps what it held in flight.
 */
final class ConsumeFloor {
  private static final Duration PROGRESS_EVERY = Duration.ofMillis(100);
  private static final int WRITE_BATCH_BYTES = 64 * 1024;
  /** At most this many messages not finished are held (each keeps its /mpub body's array alive). */
  private static final int MAX_HELD = 1 << 20;
  private static final ByteString END = ByteString.fromString("end");
  private static final ByteString OK = response("OK");
  private static final ByteString CLOSE_WAIT = response("CLOSE_WAIT");

  private final ActorRef<Command> channel;
  private final int tcpPort;

  private ConsumeFloor(ActorRef<Command> channel, int tcpPort) {
    this.channel = channel;
    this.tcpPort = tcpPort;
  }

  static ConsumeFloor start(ActorSystem<?> system) throws Exception {
    ActorRef<Command> channel = system.systemActorOf(
        Behaviors.<Command>withTimers(timers -> new Channel(timers)), "channel", Props.empty());
    Materializer materializer = Materializer.matFromSystem(system);
    Tcp.ServerBinding binding = Tcp.get(system).bind("127.0.0.1", 0)
        .to(Sink.foreach(connection -> connection.handleWith(connectionFlow(system, materializer, channel), materializer)))
        .run(materializer)
        .toCompletableFuture().get();
    return new ConsumeFloor(channel, binding.localAddress().getPort());
  }

  int tcpPort() {
    return tcpPort;
  }

  /** For the topic entity: each batch, once written, goes to the channel. */
  Consumer<List<PubFloor.Publish>> written() {
    return publishes -> channel.tell(new Push(publishes));
  }

  /** For the route of {@code /channel/create}: the channel takes what is written from now on. */
  Runnable channelCreated() {
    return () -> channel.tell(Start.INSTANCE);
  }

  // ---- the channel ------------------------------------------------------------------------------
  sealed interface Command {}

  enum Start implements Command { INSTANCE }

  enum Tick implements Command { INSTANCE }

  record Push(List<PubFloor.Publish> publishes) implements Command {}

  record Subscribe(ActorRef<Event> consumer) implements Command {}

  record Ready(ActorRef<Event> consumer, long count) implements Command {}

  record Finish(ActorRef<Event> consumer, long[] offsets) implements Command {}

  record Gone(ActorRef<Event> consumer) implements Command {}

  /** A consumer of the channel: its RDY and how many of its messages are not finished. */
  private static final class Reader {
    final ActorRef<Event> ref;
    long ready;
    long inFlight;

    Reader(ActorRef<Event> ref) {
      this.ref = ref;
    }

    long credit() {
      return ready - inFlight;
    }
  }

  /**
   * The messages from the cursor on, by offset in a ring: [cursor, next) delivered (null once
   * finished), [next, end) ready. State and event: the cursor, 8 bytes (byte[]: Pekko's own serializer).
   */
  private static final class Channel extends EventSourcedBehavior<Command, byte[], Long> {
    private final List<Reader> readers = new ArrayList<>();
    private ByteString[] ring = new ByteString[1 << 16];
    private long cursor, next, end;
    private long written, dropped;
    private boolean started, writing;
    private int turn;

    Channel(org.apache.pekko.actor.typed.javadsl.TimerScheduler<Command> timers) {
      super(PersistenceId.ofUniqueId("floor-channel"));
      timers.startTimerAtFixedRate(Tick.INSTANCE, PROGRESS_EVERY);
    }

    @Override
    public Long emptyState() {
      return 0L;
    }

    @Override
    public CommandHandler<Command, byte[], Long> commandHandler() {
      return newCommandHandlerBuilder().forAnyState()
          .onCommand(Start.class, c -> {
            started = true;
            return Effect().none();
          })
          .onCommand(Push.class, p -> {
            if (started) {
              for (PubFloor.Publish publish : p.publishes()) add(publish.body());
              deliver();
            }
            return Effect().none();
          })
          .onCommand(Subscribe.class, s -> {
            readers.add(new Reader(s.consumer()));
            return Effect().none();
          })
          .onCommand(Ready.class, r -> {
            Reader reader = reader(r.consumer());
            if (reader != null) reader.ready = r.count();
            deliver();
            return Effect().none();
          })
          .onCommand(Finish.class, f -> {
            finish(reader(f.consumer()), f.offsets());
            deliver();
            return Effect().none();
          })
          .onCommand(Gone.class, g -> {
            readers.remove(reader(g.consumer()));
            return Effect().none();
          })
          .onCommand(Tick.class, t -> {
            if (writing || cursor == written) return Effect().none();
            writing = true;
            long at = cursor;
            return Effect().persist(ByteBuffer.allocate(8).putLong(at).array()).thenRun(s -> {
              written = at;
              writing = false;
            });
          })
          .build();
    }

    @Override
    public EventHandler<Long, byte[]> eventHandler() {
      return newEventHandlerBuilder().forAnyState().onAnyEvent((s, e) -> ByteBuffer.wrap(e).getLong());
    }

    /**
     * An /mpub body's messages, one a line, as nsqd reads them. Beyond {@link #MAX_HELD} messages
     * not finished (its consumers fell behind) the floor drops the rest and says so: Herald reads
     * them back from the journal instead, which the floor does not, so such a run is not a floor.
     */
    private void add(ByteString body) {
      // The bytes themselves (a strict entity's are one array): ByteString's indexOf goes byte by byte through apply.
      byte[] bytes = body.toArrayUnsafe();
      int from = 0;
      while (from < bytes.length) {
        int to = from;
        while (to < bytes.length && bytes[to] != '\n') to++;
        if (end - cursor == MAX_HELD) {
          if (dropped++ % 100_000 == 0) System.out.println("channel: consumers fell behind; " + dropped + " messages dropped");
        } else {
          if (end - cursor == ring.length) grow();
          ring[(int) (end++ & (ring.length - 1))] = body.slice(from, to);
        }
        from = to + 1;
      }
    }

    private void grow() {
      ByteString[] bigger = new ByteString[ring.length * 2];
      for (long o = cursor; o < end; o++) bigger[(int) (o & (bigger.length - 1))] = ring[(int) (o & (ring.length - 1))];
      ring = bigger;
    }

    /** Round robin by runs, as Herald's channel: each reader with credit takes its share as one run. */
    private void deliver() {
      int sharers = 0;
      for (Reader r : readers) if (r.credit() > 0) sharers++;
      if (sharers == 0 || next == end) return;
      long share = (end - next + sharers - 1) / sharers;
      long now = System.currentTimeMillis() * 1_000_000L;
      for (int i = 0; i < readers.size() && next < end; i++) {
        Reader r = readers.get((turn + i) % readers.size());
        int n = (int) Math.min(Math.min(share, r.credit()), end - next);
        if (n <= 0) continue;
        ByteString[] bodies = new ByteString[n];
        for (int k = 0; k < n; k++) bodies[k] = ring[(int) ((next + k) & (ring.length - 1))];
        r.ref.tell(new Deliver(next, bodies, now));
        r.inFlight += n;
        next += n;
      }
      turn++;
    }

    private void finish(Reader reader, long[] offsets) {
      for (long o : offsets) {
        int i = (int) (o & (ring.length - 1));
        if (o >= cursor && o < next && ring[i] != null) {
          ring[i] = null;
          if (reader != null) reader.inFlight--;
        }
      }
      while (cursor < next && ring[(int) (cursor & (ring.length - 1))] == null) cursor++;
    }

    private Reader reader(ActorRef<Event> ref) {
      for (Reader r : readers) if (r.ref.equals(ref)) return r;
      return null;
    }
  }

  // ---- a consumer's connection ---------------------------------------------------------------------
  sealed interface Event {}

  enum Ack { INSTANCE }

  record Opened(ActorRef<Ack> ackTo) implements Event {}

  /** What one read of the socket held: lines (String) and runs of FINs (long[] of offsets), in order. */
  record Received(List<Object> commands, ActorRef<Ack> ackTo) implements Event {}

  record Closed() implements Event {}

  /** Messages first, first + 1, ... for this consumer; {@code timestamp} in nanoseconds. */
  record Deliver(long first, ByteString[] bodies, long timestamp) implements Event {}

  private static Flow<ByteString, ByteString, NotUsed> connectionFlow(
      ActorSystem<?> system, Materializer materializer, ActorRef<Command> channel) {
    Pair<ActorRef<ByteString>, Source<ByteString, NotUsed>> out = ActorSource.<ByteString>actorRef(
            b -> b == END, b -> Optional.empty(), 100_000, OverflowStrategy.fail())
        .preMaterialize(materializer);
    ActorRef<Event> connection = system.systemActorOf(connection(channel, out.first()), "conn-" + System.nanoTime(),
        Props.empty());
    var in = Flow.of(ByteString.class)
        .<List<Object>>statefulMapConcat(() -> {
          Decoder decoder = new Decoder();
          return bytes -> {
            List<Object> commands = decoder.decode(bytes);
            return commands.isEmpty() ? List.of() : List.of(commands);
          };
        })
        .to(ActorSink.<List<Object>, Event, Ack>actorRefWithBackpressure(connection,
            (ackTo, commands) -> new Received(commands, ackTo), Opened::new, Ack.INSTANCE, new Closed(), e -> new Closed()));
    return Flow.fromSinkAndSource(in,
        out.second().batchWeighted(WRITE_BATCH_BYTES, b -> (long) b.length(), b -> b, ByteString::concat));
  }

  private static Behavior<Event> connection(ActorRef<Command> channel, ActorRef<ByteString> out) {
    return Behaviors.setup(ctx -> Behaviors.receive(Event.class)
        .onMessage(Opened.class, o -> {
          o.ackTo().tell(Ack.INSTANCE);
          return Behaviors.same();
        })
        .onMessage(Received.class, r -> {
          for (Object c : r.commands()) {
            if (c instanceof long[] fins) {
              channel.tell(new Finish(ctx.getSelf(), fins));
            } else if (c instanceof String line) {
              if (line.startsWith("IDENTIFY")) {
                out.tell(OK);
              } else if (line.startsWith("SUB ")) {
                // As nsqd's SUB, it creates the channel if /channel/create did not.
                channel.tell(Start.INSTANCE);
                channel.tell(new Subscribe(ctx.getSelf()));
                out.tell(OK);
              } else if (line.startsWith("RDY ")) {
                channel.tell(new Ready(ctx.getSelf(), Long.parseLong(line.substring(4).trim())));
              } else if (line.equals("CLS")) {
                channel.tell(new Ready(ctx.getSelf(), 0));
                out.tell(CLOSE_WAIT);
              }
            }
          }
          r.ackTo().tell(Ack.INSTANCE);
          return Behaviors.same();
        })
        .onMessage(Deliver.class, d -> {
          out.tell(frames(d));
          return Behaviors.same();
        })
        .onMessage(Closed.class, c -> {
          channel.tell(new Gone(ctx.getSelf()));
          out.tell(END);
          return Behaviors.stopped();
        })
        .build());
  }

  /** nsqd's message frames, back to back, in one array: [size][type 2][ns timestamp][attempts][16-byte id][body]. */
  private static ByteString frames(Deliver d) {
    int size = 0;
    for (ByteString body : d.bodies()) size += 4 + 4 + 8 + 2 + 16 + body.length();
    ByteBuffer b = ByteBuffer.allocate(size);
    long offset = d.first();
    for (ByteString body : d.bodies()) {
      b.putInt(4 + 8 + 2 + 16 + body.length());
      b.putInt(2);
      b.putLong(d.timestamp());
      b.putShort((short) 1);
      MessageId.putAscii(b, offset++);
      body.copyToBuffer(b);
    }
    return ByteString.fromArrayUnsafe(b.array());
  }

  private static ByteString response(String text) {
    byte[] data = text.getBytes(StandardCharsets.US_ASCII);
    return ByteString.fromArrayUnsafe(ByteBuffer.allocate(8 + data.length).putInt(4 + data.length).putInt(0).put(data).array());
  }

  /**
   * The client's side of NSQ's protocol as far as a consumer needs it: the magic, IDENTIFY (its
   * body skipped), SUB, RDY, FIN, NOP, CLS. What a read ends in the middle of waits for the next.
   */
  static final class Decoder {
    private byte[] held = new byte[0];
    private boolean magic;

    List<Object> decode(ByteString bytes) {
      byte[] data = held.length == 0 ? bytes.toArray() : concat(held, bytes.toArray());
      List<Object> commands = new ArrayList<>();
      long[] fins = new long[16];
      int finCount = 0;
      int at = 0;
      if (!magic) {
        if (data.length < 4) {
          held = data;
          return commands;
        }
        magic = true;
        at = 4;
      }
      while (at < data.length) {
        int nl = indexOf(data, (byte) '\n', at);
        if (nl < 0) break;
        if (nl - at == 20 && data[at] == 'F' && data[at + 1] == 'I' && data[at + 2] == 'N' && data[at + 3] == ' ') {
          if (finCount == fins.length) fins = Arrays.copyOf(fins, finCount * 2);
          fins[finCount++] = MessageId.parse(data, at + 4);
          at = nl + 1;
          continue;
        }
        String line = new String(data, at, nl - at, StandardCharsets.US_ASCII);
        int after = nl + 1;
        if (line.startsWith("IDENTIFY")) {
          if (data.length - after < 4) break;
          int size = ByteBuffer.wrap(data, after, 4).getInt();
          if (data.length - after - 4 < size) break;
          after += 4 + size;
        }
        if (finCount > 0) {
          commands.add(Arrays.copyOf(fins, finCount));
          finCount = 0;
        }
        commands.add(line);
        at = after;
      }
      if (finCount > 0) commands.add(Arrays.copyOf(fins, finCount));
      held = Arrays.copyOfRange(data, at, data.length);
      return commands;
    }

    private static int indexOf(byte[] data, byte b, int from) {
      for (int i = from; i < data.length; i++) if (data[i] == b) return i;
      return -1;
    }

    private static byte[] concat(byte[] a, byte[] b) {
      byte[] both = Arrays.copyOf(a, a.length + b.length);
      System.arraycopy(b, 0, both, a.length, b.length);
      return both;
    }
  }
}
