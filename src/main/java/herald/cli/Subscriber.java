package herald.cli;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A consumer on {@code /sub} for the tools: JSON frames, RDY, FIN. With a limit it never takes more
 * than that many messages: before each FIN it lowers RDY to what is still wanted, and the server
 * applies a consumer's commands in order, so it cannot deliver past the limit.
 */
final class Subscriber implements AutoCloseable {
  private static final Set<String> FATAL = Set.of("E_INVALID", "E_CHANNEL_GONE", "E_SUB_FAILED");

  record Message(String id, long timestamp, int attempts, byte[] body) {}

  private record Closed(String why) {}

  private final NodeClient node;
  private final LinkedBlockingQueue<Object> frames = new LinkedBlockingQueue<>();
  private final Consumer<String> warn;
  private final long limit;
  private final long rdy;
  private WebSocket socket;
  private long finished;
  private long sentRdy = -1;
  private volatile boolean closing;

  /** limit 0 = no limit; warn gets non-fatal server errors such as E_FIN_FAILED. */
  private Subscriber(NodeClient node, long rdy, long limit, Consumer<String> warn) {
    this.node = node;
    this.rdy = rdy;
    this.limit = limit;
    this.warn = warn;
  }

  /** Connects, waits for "subscribed", and sends the first RDY. */
  static Subscriber connect(NodeClient node, String topic, String channel, long rdy, long limit, Consumer<String> warn)
      throws NodeClient.Failure, InterruptedException {
    return connect(node, topic, channel, null, rdy, limit, warn);
  }

  /** {@code from}: where a channel this makes starts (/sub's from=), null for the default. */
  static Subscriber connect(NodeClient node, String topic, String channel, String from, long rdy, long limit,
      Consumer<String> warn) throws NodeClient.Failure, InterruptedException {
    Subscriber s = new Subscriber(node, rdy, limit, warn);
    String query = "/sub?topic=" + NodeClient.encode(topic) + "&channel=" + NodeClient.encode(channel)
        + (from == null ? "" : "&from=" + NodeClient.encode(from));
    try {
      s.socket = node.authorized(node.http.newWebSocketBuilder(), (b, a) -> b.header("Authorization", a))
          .connectTimeout(NodeClient.CONNECT_TIMEOUT)
          .buildAsync(node.ws(query), s.new Listener())
          .get(NodeClient.REQUEST_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      Throwable cause = e.getCause();
      if (cause instanceof WebSocketHandshakeException h) {
        String body = h.getResponse().body() instanceof String b ? b : "";
        throw new NodeClient.Failure("GET /sub refused: " + NodeClient.status(h.getResponse().statusCode(), body));
      }
      throw new NodeClient.Failure(node.unreachable(e));
    }
    long deadline = System.nanoTime() + NodeClient.REQUEST_TIMEOUT.toNanos();
    while (true) {
      Object f = s.frames.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (f == null) {
        s.close();
        throw new NodeClient.Failure("no answer to GET /sub within " + NodeClient.REQUEST_TIMEOUT.toSeconds() + " s");
      }
      if (f instanceof Closed c) throw new NodeClient.Failure(c.why());
      if (f instanceof JsonNode j && "subscribed".equals(j.path("type").asText())) break;
    }
    s.updateRdy();
    return s;
  }

  /** The next message, or null when none came within the timeout; a Failure once the socket is gone. */
  Message next(Duration timeout) throws NodeClient.Failure, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      Object f = left <= 0 ? frames.poll() : frames.poll(left, TimeUnit.NANOSECONDS);
      if (f == null) return null;
      if (f instanceof Closed c) {
        frames.add(c); // stays closed
        throw new NodeClient.Failure(c.why());
      }
      JsonNode j = (JsonNode) f;
      switch (j.path("type").asText()) {
        case "message" -> {
          byte[] body = j.has("body")
              ? j.get("body").asText().getBytes(StandardCharsets.UTF_8)
              : Base64.getDecoder().decode(j.path("body_base64").asText());
          return new Message(j.path("id").asText(), j.path("timestamp").asLong(), j.path("attempts").asInt(), body);
        }
        case "error" -> warn.accept(j.path("code").asText() + ": " + j.path("message").asText());
        default -> { }
      }
    }
  }

  /** FIN, after lowering RDY so that no message past the limit is delivered. */
  void fin(String id) {
    finished++;
    updateRdy();
    send("FIN " + id);
  }

  /** Messages still wanted: unbounded without a limit. */
  long wanted() {
    return limit == 0 ? Long.MAX_VALUE : Math.max(0, limit - finished);
  }

  private void updateRdy() {
    long r = Math.min(rdy, wanted());
    if (r != sentRdy) {
      sentRdy = r;
      send("RDY " + r);
    }
  }

  private synchronized void send(String command) {
    try {
      socket.sendText(command, true).get(NodeClient.REQUEST_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      frames.add(new Closed("lost the connection to " + node.base + " (" + NodeClient.describe(e) + ")"));
    }
  }

  @Override
  public void close() {
    closing = true;
    if (socket == null) return;
    try {
      if (!socket.isOutputClosed()) socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(2, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // gone already
    } finally {
      socket.abort();
    }
  }

  private final class Listener implements WebSocket.Listener {
    private final StringBuilder text = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        try {
          JsonNode j = NodeClient.JSON.readTree(text.toString());
          if ("error".equals(j.path("type").asText()) && FATAL.contains(j.path("code").asText())) {
            frames.add(new Closed("the node closed the subscription: " + j.path("code").asText() + " " + j.path("message").asText()));
          } else {
            frames.add(j);
          }
        } catch (IOException e) {
          warn.accept("unreadable frame from the node: " + text);
        }
        text.setLength(0);
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      if (!closing) frames.add(new Closed("the node closed the connection (" + statusCode + (reason.isEmpty() ? "" : " " + reason) + ")"));
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      if (!closing) frames.add(new Closed("lost the connection to " + node.base + " (" + NodeClient.describe(error) + ")"));
    }
  }
}
