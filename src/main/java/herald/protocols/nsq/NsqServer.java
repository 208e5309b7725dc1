package herald.protocols.nsq;

import herald.broker.Publisher;
import herald.settings.Settings;
import herald.security.Authorizer;
import herald.security.ServerTls;
import herald.stats.TcpProducers;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.io.Inet;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.Tcp;
import org.apache.pekko.stream.typed.javadsl.ActorSink;
import org.apache.pekko.stream.typed.javadsl.ActorSource;
import org.apache.pekko.util.ByteString;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The NSQ TCP listener (nsqd's --tcp-address) on Pekko Streams TCP: each connection is a decoder
 * stage feeding an {@link NsqConnection} actor with backpressure, and a bounded source of the
 * frames it writes; with a certificate, {@link StartTls} around them.
 */
public final class NsqServer {
  /** Writes are gathered up to this size while the socket is busy (nsqd buffers 16 KiB by default). */
  private static final int WRITE_BATCH_BYTES = 64 * 1024;

  private NsqServer() {}

  public static CompletionStage<Tcp.ServerBinding> bind(
      ActorSystem<?> system, Settings settings, Publisher publisher, List<Inet.SocketOption> options,
      String version, MeterRegistry metrics, Optional<Authorizer> authorizer, Optional<ServerTls> tls, boolean tlsRequired,
      TcpProducers producers) {
    Materializer materializer = Materializer.matFromSystem(system);
    NsqConnection.Params params = new NsqConnection.Params(
        new NsqDecoder.Limits(settings.maxMsgSize(), settings.maxBodySize(), settings.maxReqTimeout().toMillis()),
        new Identify.Offer(version, settings.maxRdyCount(), settings.msgTimeout(), settings.maxMsgTimeout(), authorizer.isPresent(),
            tls.isPresent()),
        settings.maxRdyCount(), publisher, authorizer, tlsRequired, producers);
    AtomicInteger open = new AtomicInteger();
    Gauge.builder("herald.tcp.connections", open, AtomicInteger::get)
        .description("open NSQ TCP connections (publishers and consumers)")
        .register(metrics);
    AtomicLong names = new AtomicLong();
    CompletionStage<Tcp.ServerBinding> bound = Tcp.get(system)
        .bind(settings.tcpHost(), settings.tcpPort(), 100, options, false, Optional.empty())
        .to(Sink.foreach(connection -> {
          open.incrementAndGet();
          String remote = connection.remoteAddress().getAddress().getHostAddress() + ":" + connection.remoteAddress().getPort();
          Flow<StartTls.Read, ByteString, NotUsed> flow = connectionFlow(system, materializer, params, remote, "nsq-" + names.incrementAndGet());
          Flow<ByteString, ByteString, NotUsed> socket = tls.isPresent()
              ? StartTls.around(flow, tls.get()::engine, WRITE_BATCH_BYTES)
              : Flow.of(ByteString.class).map(b -> new StartTls.Read(b, null)).via(flow).via(StartTls.batched(WRITE_BATCH_BYTES));
          connection.handleWith(socket
              .watchTermination((mat, done) -> done.whenComplete((d, e) -> open.decrementAndGet())), materializer);
        }))
        .run(materializer);
    return bound.thenApply(binding -> {
      CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceUnbind(), "nsq-tcp-unbind",
          () -> binding.unbind().thenApply(x -> Done.getInstance()));
      return binding;
    });
  }

  private static Flow<StartTls.Read, ByteString, NotUsed> connectionFlow(
      ActorSystem<?> system, Materializer materializer, NsqConnection.Params params, String remote, String name) {
    // In-flight messages are bounded by RDY and answers by the publishes a connection may have
    // waiting, so this buffer overflows only for a client that stops reading.
    Pair<ActorRef<ByteString>, Source<ByteString, NotUsed>> out = ActorSource.<ByteString>actorRef(
            b -> b == NsqConnection.END, b -> Optional.empty(),
            (int) params.maxRdyCount() + 2 * NsqConnection.MAX_PENDING_PUBLISHES + 64, OverflowStrategy.fail())
        .preMaterialize(materializer);
    ActorRef<NsqConnection.Event> connection = system.systemActorOf(
        NsqConnection.create(params, remote, out.first()), name, Props.empty());
    Sink<StartTls.Read, NotUsed> in = Flow.<StartTls.Read>create()
        .<NsqConnection.Decoded>statefulMapConcat(() -> {
          NsqDecoder decoder = new NsqDecoder(params.limits());
          boolean[] tls = {false};
          return read -> {
            if (read.session() != null && !tls[0]) {
              tls[0] = true;
              decoder.dropHeld();
            }
            List<NsqCommand> commands = decoder.decode(read.bytes());
            return commands.isEmpty() ? List.of() : List.of(new NsqConnection.Decoded(commands, read.session()));
          };
        })
        .to(ActorSink.<NsqConnection.Decoded, NsqConnection.Event, NsqConnection.Ack>actorRefWithBackpressure(connection,
            (ackTo, decoded) -> new NsqConnection.Received(decoded.commands(), decoded.session(), ackTo),
            NsqConnection.Opened::new,
            NsqConnection.Ack.INSTANCE,
            NsqConnection.ClientGone.INSTANCE,
            failure -> NsqConnection.ClientGone.INSTANCE));
    Source<ByteString, NotUsed> written = out.second();
    // Not coupled: a fatal error frame must be written before the socket closes, and cancelling
    // the read side could abort the connection first. The connection actor ends both sides.
    return Flow.fromSinkAndSource(in, written);
  }
}
