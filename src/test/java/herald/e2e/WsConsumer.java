package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** A WebSocket consumer over the JDK's client: every server frame lands in a queue. */
public final class WsConsumer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A text frame as JSON, or a binary frame as bytes. */
  public record Frame(JsonNode json, byte[] binary) {
    public String type() {
      return json == null ? "binary" : json.path("type").asText();
    }
  }

  private final LinkedBlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
  private final CompletableFuture<Integer> closed = new CompletableFuture<>();
  private final WebSocket socket;

  private WsConsumer(HttpClient client, String url, java.util.Map<String, String> headers) throws Exception {
    WebSocket.Builder builder = client.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10));
    headers.forEach(builder::header);
    this.socket = builder.buildAsync(URI.create(url), new Listener()).get(20, TimeUnit.SECONDS);
  }

  /** Connects and waits for the "subscribed" frame. */
  public static WsConsumer subscribe(NodeProcess node, String query) throws Exception {
    return subscribe(HttpClient.newHttpClient(), node.wsUrl() + "/sub?" + query, java.util.Map.of());
  }

  /** The same with a client of one's own (TLS) and extra handshake headers (Authorization, Origin). */
  public static WsConsumer subscribe(HttpClient client, String url, java.util.Map<String, String> headers) throws Exception {
    WsConsumer c = new WsConsumer(client, url, headers);
    Frame first = c.next(Duration.ofSeconds(20));
    if (!"subscribed".equals(first.type())) throw new AssertionError("expected subscribed, got " + first);
    return c;
  }

  /** The HTTP status of a refused handshake; fails if the handshake is accepted or fails otherwise. */
  public static int refusal(HttpClient client, String url, java.util.Map<String, String> headers) throws Exception {
    try {
      new WsConsumer(client, url, headers).close();
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof java.net.http.WebSocketHandshakeException refused) return refused.getResponse().statusCode();
      throw e;
    }
    throw new AssertionError("the WebSocket handshake to " + url + " was accepted");
  }

  public void send(String text) {
    socket.sendText(text, true).join();
  }

  /** One part of a text frame sent in parts; {@code last} ends the frame. */
  public void sendPart(String text, boolean last) {
    socket.sendText(text, last).join();
  }

  /** The next frame, or an AssertionError after the timeout. */
  public Frame next(Duration timeout) throws InterruptedException {
    Frame f = frames.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (f == null) throw new AssertionError("no frame within " + timeout);
    return f;
  }

  /** The next frame within the timeout, or null. */
  public Frame poll(Duration timeout) throws InterruptedException {
    return frames.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Collects n message frames (skipping nothing else: any other frame fails the wait). */
  public List<Frame> messages(int n, Duration timeout) throws InterruptedException {
    List<Frame> out = new ArrayList<>();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (out.size() < n) {
      long left = deadline - System.nanoTime();
      Frame f = left <= 0 ? null : frames.poll(left, TimeUnit.NANOSECONDS);
      if (f == null) throw new AssertionError("got " + out.size() + " of " + n + " messages within " + timeout);
      if (!f.type().equals("message") && !f.type().equals("binary")) throw new AssertionError("unexpected frame " + f.json());
      out.add(f);
    }
    return out;
  }

  public Frame await(Predicate<Frame> what, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      Frame f = left <= 0 ? null : frames.poll(left, TimeUnit.NANOSECONDS);
      if (f == null) throw new AssertionError("no matching frame within " + timeout);
      if (what.test(f)) return f;
    }
  }

  /** Completes with the close status code when the server closes the socket. */
  public CompletableFuture<Integer> closed() {
    return closed;
  }

  public boolean isClosed() {
    return closed.isDone();
  }

  /** A clean close: our close frame, then the server's, so nothing sent before is lost in a reset. */
  @Override
  public void close() {
    try {
      if (!socket.isOutputClosed()) socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(5, TimeUnit.SECONDS);
      closed.get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      // the server is gone or did not answer: drop the connection anyway
    } finally {
      socket.abort();
    }
  }

  /**
   * A binary message holds NSQ message frames back to back ([size][type 2][message]); each one is
   * queued as a frame holding the message. A malformed one is queued as "unparseable".
   */
  private void splitNsqFrames(ByteBuffer buf) {
    while (buf.hasRemaining()) {
      int size = buf.remaining() >= 8 ? buf.getInt() : -1;
      if (size < 4 || size > buf.remaining() || buf.getInt() != 2) {
        frames.add(new Frame(JSON.createObjectNode().put("type", "unparseable").put("raw", "bad NSQ frame"), null));
        return;
      }
      byte[] message = new byte[size - 4];
      buf.get(message);
      frames.add(new Frame(null, message));
    }
  }

  private final class Listener implements WebSocket.Listener {
    private final StringBuilder text = new StringBuilder();
    private final java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        try {
          frames.add(new Frame(JSON.readTree(text.toString()), null));
        } catch (IOException e) {
          frames.add(new Frame(JSON.createObjectNode().put("type", "unparseable").put("raw", text.toString()), null));
        }
        text.setLength(0);
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
      byte[] chunk = new byte[data.remaining()];
      data.get(chunk);
      bytes.writeBytes(chunk);
      if (last) {
        splitNsqFrames(ByteBuffer.wrap(bytes.toByteArray()));
        bytes.reset();
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      closed.complete(statusCode);
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      closed.complete(-1);
    }
  }
}
