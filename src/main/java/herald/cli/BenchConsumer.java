package herald.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.HdrHistogram.Histogram;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One WebSocket consumer on /sub: sends RDY once, FINs every message as it arrives, marks it
 * consumed in its publisher's ledger and records its end-to-end latency (first delivery only).
 */
final class BenchConsumer implements WebSocket.Listener {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** [4-byte size][4-byte frame type][8-byte timestamp][2-byte attempts][16-byte id][body] */
  private static final int BINARY_HEADER = 34;

  private final long run;
  private final BenchLedger[] ledgers;
  private final BenchStats stats;
  private final Histogram e2e;
  private final Histogram warmUp;
  private final BenchBody.Parsed parsed = new BenchBody.Parsed();
  private final CompletableFuture<Void> subscribed = new CompletableFuture<>();
  private final CompletableFuture<Void> closed = new CompletableFuture<>();
  private final ConcurrentLinkedQueue<String> outbox = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean sending = new AtomicBoolean();
  private final StringBuilder text = new StringBuilder();
  private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
  private final byte[] idBytes = new byte[20];
  private volatile boolean closing;
  private volatile long lastDeliveryNanos;
  private volatile WebSocket socket;
  /** Instead of the WebSocket: NSQ's TCP protocol, FINs written by the thread that reads. */
  private volatile Socket tcp;
  private OutputStream tcpOut;

  BenchConsumer(long run, BenchLedger[] ledgers, BenchStats stats, Histogram e2e) {
    this.run = run;
    this.ledgers = ledgers;
    this.stats = stats;
    this.e2e = e2e;
    this.warmUp = new Histogram(e2e.getHighestTrackableValue(), e2e.getNumberOfSignificantValueDigits());
    System.arraycopy("FIN ".getBytes(StandardCharsets.US_ASCII), 0, idBytes, 0, 4);
  }

  /** Opens the socket and waits for "subscribed"; then sends RDY. */
  void connect(HttpClient client, URI uri, int rdy, Duration timeout) throws Exception {
    socket = client.newWebSocketBuilder().connectTimeout(timeout).buildAsync(uri, this)
        .get(timeout.toMillis() + 5000, TimeUnit.MILLISECONDS);
    subscribed.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    send("RDY " + rdy);
  }

  /** NSQ TCP instead of a WebSocket: [IDENTIFY,] SUB, waits for OK, sends RDY; a thread reads from then on. */
  void connectTcp(InetSocketAddress address, String topic, String channel, int rdy, boolean unbuffered, Duration timeout)
      throws Exception {
    Socket s = new Socket();
    s.setTcpNoDelay(true);
    s.connect(address, (int) timeout.toMillis());
    s.setSoTimeout((int) timeout.toMillis());
    DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream(), 256 * 1024));
    tcpOut = new BufferedOutputStream(s.getOutputStream(), 64 * 1024);
    tcp = s;
    tcpOut.write("  V2".getBytes(StandardCharsets.US_ASCII));
    if (unbuffered) {
      // nsqd's own way to write each message as it goes: output_buffer_size -1 (nsq's protocol docs).
      byte[] identify = "{\"output_buffer_size\":-1}".getBytes(StandardCharsets.US_ASCII);
      tcpOut.write("IDENTIFY\n".getBytes(StandardCharsets.US_ASCII));
      tcpOut.write(ByteBuffer.allocate(4).putInt(identify.length).array());
      tcpOut.write(identify);
      tcpOut.flush();
      expectOk(s, in, "IDENTIFY");
    }
    writeTcp("SUB " + topic + " " + channel);
    expectOk(s, in, "SUB");
    s.setSoTimeout(0); // heartbeats keep an idle connection alive; a dead node closes it
    writeTcp("RDY " + rdy);
    Thread reader = new Thread(() -> readTcp(in), "bench-consumer-tcp");
    reader.setDaemon(true);
    reader.start();
  }

  private static void expectOk(Socket s, DataInputStream in, String command) throws IOException {
    byte[] answer = readFrame(in);
    String text = new String(answer, 4, answer.length - 4, StandardCharsets.UTF_8);
    if (ByteBuffer.wrap(answer).getInt() != 0 || !text.equals("OK")) {
      s.close();
      throw new IOException(command + " answered " + text);
    }
  }

  /** [type][data] of the next frame. */
  private static byte[] readFrame(DataInputStream in) throws IOException {
    int size = in.readInt();
    byte[] frame = new byte[size];
    in.readFully(frame);
    return frame;
  }

  private void readTcp(DataInputStream in) {
    ByteArrayOutputStream batch = new ByteArrayOutputStream();
    try {
      while (true) {
        int size = in.readInt();
        byte[] frame = new byte[size];
        in.readFully(frame);
        int type = ByteBuffer.wrap(frame).getInt();
        if (type == 2) {
          batch.writeBytes(ByteBuffer.allocate(4).putInt(size).array());
          batch.writeBytes(frame);
          // The messages that arrived together are FINed together (one write).
          if (in.available() < 8 || batch.size() > 256 * 1024) {
            byte[] all = batch.toByteArray();
            batch.reset();
            binaryMessage(ByteBuffer.wrap(all), 0, all.length);
          }
        } else {
          String text = new String(frame, 4, size - 4, StandardCharsets.UTF_8);
          if (type == 0 && text.equals("_heartbeat_")) writeTcp("NOP");
          else if (type == 1) stats.error("tcp " + text.split(" ")[0]);
        }
      }
    } catch (IOException e) {
      if (!closing) stats.error("tcp " + BenchStats.kind(e));
    } finally {
      subscribed.completeExceptionally(new IOException("connection closed"));
      closed.complete(null);
    }
  }

  private void writeTcp(String command) throws IOException {
    synchronized (tcpOut) {
      tcpOut.write((command + "\n").getBytes(StandardCharsets.US_ASCII));
      tcpOut.flush();
    }
  }

  long lastDeliveryNanos() {
    return lastDeliveryNanos;
  }

  boolean isClosed() {
    return closed.isDone();
  }

  /** Lets the FINs still queued go out, then a clean close; drops the connection after 5 s. */
  void close() {
    Socket t = tcp;
    if (t != null) {
      closing = true;
      try {
        t.close();
        closed.get(5, TimeUnit.SECONDS);
      } catch (Exception e) {
        // closed either way
      }
      return;
    }
    WebSocket ws = socket;
    if (ws == null) return;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    while ((!outbox.isEmpty() || sending.get()) && !closed.isDone() && System.nanoTime() < deadline) {
      sleep(5);
    }
    closing = true;
    try {
      if (!ws.isOutputClosed()) ws.sendClose(WebSocket.NORMAL_CLOSURE, "bench done").get(5, TimeUnit.SECONDS);
      closed.get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      // the server is gone or did not answer: drop the connection anyway
    } finally {
      ws.abort();
    }
  }

  // ---- WebSocket.Listener -----------------------------------------------------------------------

  @Override
  public void onOpen(WebSocket ws) {
    socket = ws;
    ws.request(Long.MAX_VALUE); // no client-side flow control: RDY bounds what the node sends
  }

  @Override
  public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
    if (last && partial.size() == 0) {
      binaryMessage(data, data.position(), data.remaining());
    } else {
      byte[] chunk = new byte[data.remaining()];
      data.get(chunk);
      partial.writeBytes(chunk);
      if (last) {
        byte[] all = partial.toByteArray();
        partial.reset();
        binaryMessage(ByteBuffer.wrap(all), 0, all.length);
      }
    }
    return null;
  }

  @Override
  public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
    text.append(data);
    if (last) {
      String frame = text.toString();
      text.setLength(0);
      textFrame(frame);
    }
    return null;
  }

  @Override
  public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
    if (!closing) stats.error("ws closed " + statusCode);
    subscribed.completeExceptionally(new IOException("closed by the node (" + statusCode + " " + reason + ")"));
    closed.complete(null);
    return null;
  }

  @Override
  public void onError(WebSocket ws, Throwable error) {
    if (!closing) stats.error("ws " + BenchStats.kind(error));
    subscribed.completeExceptionally(error);
    closed.complete(null);
  }

  // ---- frames -----------------------------------------------------------------------------------

  /** NSQ message frames back to back; each is FINed (one frame of FINs for the whole message). */
  private void binaryMessage(ByteBuffer buf, int at, int length) {
    long now = System.nanoTime();
    int end = at + length;
    StringBuilder fins = new StringBuilder();
    while (at < end) {
      int size = end - at >= 4 ? buf.getInt(at) : -1;
      if (size < BINARY_HEADER - 4 || at + 4 + size > end || buf.getInt(at + 4) != 2) {
        stats.error("ws bad binary frame");
        break;
      }
      byte[] fin = idBytes.clone();
      for (int i = 0; i < 16; i++) fin[4 + i] = buf.get(at + 18 + i);
      String command = new String(fin, StandardCharsets.ISO_8859_1);
      if (fins.length() > 0) fins.append('\n');
      fins.append(command);
      boolean ours = BenchBody.parse(buf, at + BINARY_HEADER, size + 4 - BINARY_HEADER, parsed);
      delivered(now, ours, command, buf.getShort(at + 16) & 0xFFFF);
      at += 4 + size;
    }
    if (fins.length() > 0) send(fins.toString());
  }

  private void textFrame(String frame) {
    long now = System.nanoTime();
    JsonNode n;
    try {
      n = JSON.readTree(frame);
    } catch (IOException e) {
      stats.error("ws unparseable frame");
      return;
    }
    switch (n.path("type").asText()) {
      case "message" -> {
        String command = "FIN " + n.path("id").asText();
        send(command);
        JsonNode body = n.get("body");
        delivered(now, body != null && BenchBody.parse(body.asText(), parsed), command, n.path("attempts").asInt());
      }
      case "subscribed" -> subscribed.complete(null);
      case "error" -> {
        String code = n.path("code").asText();
        stats.error("ws " + code);
        subscribed.completeExceptionally(new IOException(code + ": " + n.path("message").asText()));
      }
      case "close_wait" -> { }
      default -> stats.error("ws unexpected frame");
    }
  }

  private void delivered(long now, boolean parsedOk, String finCommand, int attempts) {
    stats.delivered.increment();
    lastDeliveryNanos = now;
    BenchBody.Parsed p = parsed;
    if (!parsedOk || p.run != run || p.publisher >= ledgers.length) {
      stats.foreign.increment(); // another run's message left in the channel: FINed, not counted
      if (stats.measured(stats.micros(now))) stats.measuredForeign.increment();
      return;
    }
    boolean measured = stats.measured(p.publishMicros);
    if (measured) stats.measuredDelivered.increment();
    if (ledgers[p.publisher].consumed(p.seq)) {
      // The warm-up's latencies go to a histogram of their own, by the same code as the measured ones:
      // compiled when the measured part starts.
      Histogram h = measured ? e2e : warmUp;
      long latency = Math.max(0, stats.micros(now) - p.publishMicros);
      synchronized (h) {
        h.recordValue(Math.min(latency, h.getHighestTrackableValue()));
      }
      stats.slow(true, p.publishMicros, latency, p.publisher, p.seq);
    } else {
      stats.duplicate(finCommand.substring(4), attempts);
    }
  }

  // ---- outgoing: the JDK client allows one outstanding send, so commands queue ------------------

  private void send(String command) {
    if (tcp != null) {
      try {
        writeTcp(command);
      } catch (IOException e) {
        if (!closing) stats.error("tcp send " + BenchStats.kind(e));
      }
      return;
    }
    outbox.add(command);
    pump();
  }

  private void pump() {
    while (sending.compareAndSet(false, true)) {
      String next = outbox.poll();
      if (next != null) {
        // Whatever queued meanwhile goes in the same frame, one command per line.
        StringBuilder batch = null;
        String more;
        for (int i = 0; i < 1000 && (more = outbox.poll()) != null; i++) {
          if (batch == null) batch = new StringBuilder(next);
          batch.append('\n').append(more);
        }
        if (batch != null) next = batch.toString();
      }
      if (next == null) {
        sending.set(false);
        if (outbox.isEmpty()) return;
        continue;
      }
      WebSocket ws = socket;
      CompletableFuture<WebSocket> f = ws.sendText(next, true);
      if (f.isDone()) {
        sent(f);
        sending.set(false);
        continue;
      }
      f.whenComplete((r, e) -> {
        if (e != null && !closing) stats.error("ws send " + BenchStats.kind(e));
        sending.set(false);
        pump();
      });
      return;
    }
  }

  private void sent(CompletableFuture<WebSocket> f) {
    if (f.isCompletedExceptionally() && !closing) {
      try {
        f.join();
      } catch (RuntimeException e) {
        stats.error("ws send " + BenchStats.kind(e));
      }
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
