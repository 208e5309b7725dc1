package herald.protocols.nsq;

import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.BidiShape;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.TLSClosing;
import org.apache.pekko.stream.TLSProtocol;
import org.apache.pekko.stream.UniformFanInShape;
import org.apache.pekko.stream.UniformFanOutShape;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.GraphDSL;
import org.apache.pekko.stream.javadsl.Merge;
import org.apache.pekko.stream.javadsl.Partition;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.TLS;
import org.apache.pekko.util.ByteString;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import java.util.function.Supplier;

/**
 * nsqd's upgrade to TLS after IDENTIFY (tls_v1): a connection's bytes pass in clear until the
 * connection actor writes {@link #MARK}; the frame after it (IDENTIFY's answer) is the last in
 * clear, and from then on both directions go through Pekko's TLS stage, as nsqd wraps its socket
 * in tls.Server once the answer is written. Reads are switched at the mark, before the answer
 * leaves: the client starts its handshake only after reading the answer, so none of it can be
 * taken for clear text. What was read in clear carries no session ({@link Read}), so the
 * connection can refuse clear-text commands that came after an upgrading IDENTIFY.
 */
final class StartTls {
  /** Written by the connection (compared by identity, never sent): the next frame is the last in clear. */
  static final ByteString MARK = ByteString.fromString("START_TLS");

  /**
   * After the connection's last frame: it ends the path in use (clear, or TLS with its
   * close_notify), which closes the socket. The other path never ends by itself: a TLS stage that
   * never began a session waits for input forever, and the clear path must not close the socket
   * while TLS still writes.
   */
  private static final ByteString CLOSED = ByteString.fromString("CLOSED");

  /** Bytes read, and the TLS session they came through (null: in clear). */
  record Read(ByteString bytes, SSLSession session) {}

  private StartTls() {}

  /** Where a connection's bytes go; one per connection, used by its stream's stages only. */
  private static final class Route {
    /** Read by the inbound partition; set by the outbound one, possibly on another thread. */
    volatile boolean readTls;
    boolean lastClear;
    boolean writeTls;

    int write(ByteString frame) {
      if (frame == CLOSED) return writeTls ? 1 : 0;
      if (frame == MARK) {
        readTls = true;
        lastClear = true;
        return 0;
      }
      if (writeTls) return 1;
      if (lastClear) {
        lastClear = false;
        writeTls = true;
      }
      return 0;
    }
  }

  /**
   * The socket side of one connection: {@code connection} reads {@link Read}s and writes frames
   * (with a {@link #MARK} before the last frame in clear); writes are gathered up to
   * {@code batchBytes} while the socket is busy.
   */
  static Flow<ByteString, ByteString, NotUsed> around(
      Flow<Read, ByteString, NotUsed> connection, Supplier<SSLEngine> engine, int batchBytes) {
    Route route = new Route();
    return Flow.fromGraph(GraphDSL.create(b -> {
      UniformFanOutShape<ByteString, ByteString> reads = b.add(Partition.create(ByteString.class, 2, x -> route.readTls ? 1 : 0));
      UniformFanInShape<Read, Read> toConnection = b.add(Merge.create(Read.class, 2));
      FlowShape<Read, ByteString> conn = b.add(connection.concat(Source.single(CLOSED)).concat(Source.never()));
      UniformFanOutShape<ByteString, ByteString> writes = b.add(Partition.create(ByteString.class, 2, route::write));
      UniformFanInShape<ByteString, ByteString> toSocket = b.add(Merge.create(ByteString.class, 2, true));
      // eagerClose: the connection's end (its frames done) closes the session, close_notify included.
      BidiShape<TLSProtocol.SslTlsOutbound, ByteString, ByteString, TLSProtocol.SslTlsInbound> tls =
          b.add(TLS.create(engine, TLSClosing.eagerClose()));

      b.from(reads.out(0)).via(b.add(Flow.of(ByteString.class).map(x -> new Read(x, null)))).toInlet(toConnection.in(0));
      b.from(reads.out(1)).toInlet(tls.in2());
      b.from(tls.out2()).via(b.add(Flow.of(TLSProtocol.SslTlsInbound.class)
          .filter(x -> x instanceof TLSProtocol.SessionBytes)
          .map(x -> new Read(((TLSProtocol.SessionBytes) x).bytes(), ((TLSProtocol.SessionBytes) x).session()))))
          .toInlet(toConnection.in(1));
      b.from(toConnection.out()).toInlet(conn.in());
      b.from(conn.out()).toInlet(writes.in());
      b.from(writes.out(0)).via(b.add(Flow.of(ByteString.class).takeWhile(x -> x != CLOSED).filter(x -> x != MARK)
              .via(batched(batchBytes))))
          .toInlet(toSocket.in(0));
      b.from(writes.out(1)).via(b.add(Flow.of(ByteString.class).takeWhile(x -> x != CLOSED).via(batched(batchBytes))
          .<TLSProtocol.SslTlsOutbound>map(TLSProtocol.SendBytes::new))).toInlet(tls.in1());
      b.from(tls.out1()).toInlet(toSocket.in(1));
      return FlowShape.of(reads.in(), toSocket.out());
    }));
  }

  /** Frames gathered up to this many bytes while the socket (or the TLS stage) is busy. */
  static Flow<ByteString, ByteString, NotUsed> batched(int batchBytes) {
    return Flow.of(ByteString.class).batchWeighted(batchBytes, b -> (long) b.length(), b -> b, ByteString::concat);
  }
}
