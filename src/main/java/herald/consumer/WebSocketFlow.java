package herald.consumer;

import herald.broker.ConsumerProtocol;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.StreamLimitReachedException;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSink;
import org.apache.pekko.stream.typed.javadsl.ActorSource;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One WebSocket consumer as a stream: client frames go to a new {@link ConsumerSession} actor;
 * its frames come back through a bounded source. A client frame longer than the limit is refused,
 * never buffered whole.
 */
public final class WebSocketFlow {
  private static final AtomicLong sessions = new AtomicLong();

  private WebSocketFlow() {}

  /** {@code frameTimeout}: how long a frame that arrives in parts may take. */
  public static Flow<Message, Message, NotUsed> of(
      ActorSystem<?> system, ConsumerSession.Params params, int maxMsgSize, Duration frameTimeout) {
    Materializer materializer = Materializer.matFromSystem(system);
    // In-flight messages are bounded by RDY, so this buffer only overflows for a broken client.
    Pair<ActorRef<Message>, Source<Message, NotUsed>> out = ActorSource.<Message>actorRef(
            m -> m == ConsumerSession.END, m -> Optional.empty(),
            (int) params.maxRdyCount() + 256, OverflowStrategy.fail())
        .preMaterialize(materializer);
    ActorRef<ConsumerProtocol> session = system.systemActorOf(
        ConsumerSession.create(params, out.first()), "consumer-" + sessions.incrementAndGet(), Props.empty());
    long limit = ConsumerSession.maxFrameSize(maxMsgSize, (int) params.maxRdyCount());
    Sink<Message, NotUsed> in = Flow.<Message>create()
        .<ConsumerProtocol>mapAsync(1, m -> {
          // A command is one small frame, nearly always whole: take it without a future hop.
          if (m.isText() && m.asTextMessage().isStrict()) {
            String text = m.asTextMessage().getStrictText();
            return CompletableFuture.completedFuture(text.length() > limit
                ? new ConsumerSession.FrameTooBig(limit) : new ConsumerSession.FromClient(text, false));
          }
          if (!m.isText()) {
            // Not a command, whatever it holds: the session closes the socket without reading it.
            m.asBinaryMessage().getStreamedData().runWith(Sink.cancelled(), materializer);
            return CompletableFuture.completedFuture(new ConsumerSession.FromClient("", true));
          }
          // A frame in parts is read up to the limit, never buffered whole.
          return m.asTextMessage().getStreamedText()
              .limitWeighted(limit, text -> (long) text.length())
              .completionTimeout(frameTimeout)
              .runFold(new StringBuilder(), StringBuilder::append, materializer)
              .<ConsumerProtocol>thenApply(text -> new ConsumerSession.FromClient(text.toString(), false))
              .exceptionally(failure -> unwrap(failure) instanceof StreamLimitReachedException
                  ? new ConsumerSession.FrameTooBig(limit) : new ConsumerSession.ClientGone());
        })
        .to(ActorSink.actorRef(session, new ConsumerSession.ClientGone(), e -> new ConsumerSession.ClientGone()));
    return Flow.fromSinkAndSource(in, out.second());
  }

  private static Throwable unwrap(Throwable failure) {
    return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
  }
}
