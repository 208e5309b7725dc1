package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** A raw NSQ TCP (V2) client for tests: writes commands as bytes, reads nsqd's frames back. */
public final class NsqSocket implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A server frame: 0 response, 1 error, 2 message. */
  public record Frame(int type, byte[] data) {
    public String text() {
      return new String(data, StandardCharsets.UTF_8);
    }

    public boolean isMessage() {
      return type == 2;
    }

    public long timestampNanos() {
      return ByteBuffer.wrap(data).getLong(0);
    }

    public int attempts() {
      return ByteBuffer.wrap(data).getShort(8) & 0xFFFF;
    }

    public String id() {
      return new String(data, 10, 16, StandardCharsets.US_ASCII);
    }

    public String body() {
      return new String(data, 26, data.length - 26, StandardCharsets.UTF_8);
    }

    public JsonNode json() throws IOException {
      return JSON.readTree(data);
    }

    @Override
    public String toString() {
      return (type == 0 ? "response " : type == 1 ? "error " : "message ") + (type == 2 ? id() + " " + body() : text());
    }
  }

  private Socket socket;
  private DataInputStream in;
  private OutputStream out;

  public NsqSocket(int port) throws IOException {
    this(port, true);
  }

  /** Connects; with {@code magic} it also says "  V2". */
  public NsqSocket(int port, boolean magic) throws IOException {
    socket = new Socket("127.0.0.1", port);
    socket.setTcpNoDelay(true);
    in = new DataInputStream(socket.getInputStream());
    out = socket.getOutputStream();
    if (magic) write("  V2".getBytes(StandardCharsets.US_ASCII));
  }

  public void write(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  public void send(String line) throws IOException {
    write((line + "\n").getBytes(StandardCharsets.UTF_8));
  }

  /** A command with a sized body (PUB, DPUB, IDENTIFY, AUTH). */
  public void send(String line, byte[] body) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes((line + "\n").getBytes(StandardCharsets.UTF_8));
    b.writeBytes(ByteBuffer.allocate(4).putInt(body.length).array());
    b.writeBytes(body);
    write(b.toByteArray());
  }

  public void send(String line, String body) throws IOException {
    send(line, body.getBytes(StandardCharsets.UTF_8));
  }

  /** MPUB's body: [count] then [size][bytes] per message. */
  public static byte[] mpubBody(String... messages) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(ByteBuffer.allocate(4).putInt(messages.length).array());
    for (String m : messages) {
      byte[] bytes = m.getBytes(StandardCharsets.UTF_8);
      b.writeBytes(ByteBuffer.allocate(4).putInt(bytes.length).array());
      b.writeBytes(bytes);
    }
    return b.toByteArray();
  }

  /** The next frame; AssertionError when none comes within the timeout or the server closed. */
  public Frame read(Duration timeout) throws IOException {
    socket.setSoTimeout((int) timeout.toMillis());
    try {
      int size = in.readInt();
      int type = in.readInt();
      byte[] data = new byte[size - 4];
      in.readFully(data);
      return new Frame(type, data);
    } catch (SocketTimeoutException e) {
      throw new AssertionError("no frame within " + timeout);
    } catch (EOFException e) {
      throw new AssertionError("the server closed the connection");
    }
  }

  /** The next frame that is not a heartbeat. */
  public Frame next(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      Frame f = read(Duration.ofNanos(Math.max(1_000_000, deadline - System.nanoTime())));
      if (!(f.type() == 0 && f.text().equals("_heartbeat_"))) return f;
    }
  }

  /** Reads until the server closes; frames before the close are returned' last one (or null). */
  public Frame lastFrameBeforeClose(Duration timeout) throws IOException {
    socket.setSoTimeout((int) timeout.toMillis());
    Frame last = null;
    try {
      while (true) {
        int size = in.readInt();
        int type = in.readInt();
        byte[] data = new byte[size - 4];
        in.readFully(data);
        last = new Frame(type, data);
      }
    } catch (EOFException | java.net.SocketException e) {
      return last;
    } catch (SocketTimeoutException e) {
      throw new AssertionError("the server did not close the connection within " + timeout + "; last frame " + last);
    }
  }

  /** IDENTIFY with this JSON; returns the answer frame. */
  public Frame identify(String json) throws IOException {
    send("IDENTIFY", json);
    return next(Duration.ofSeconds(20));
  }

  /**
   * nsqd's upgrade, after IDENTIFY answered {@code "tls_v1": true}: a TLS handshake over this
   * socket (the node's certificate checked against ctx's trust), then the node's first frame
   * through TLS, which is OK.
   */
  public Frame startTls(SSLContext ctx) throws IOException {
    SSLSocket tls = (SSLSocket) ctx.getSocketFactory().createSocket(socket, "127.0.0.1", socket.getPort(), true);
    tls.setUseClientMode(true);
    tls.startHandshake();
    socket = tls;
    in = new DataInputStream(tls.getInputStream());
    out = tls.getOutputStream();
    return next(Duration.ofSeconds(20));
  }

  /** The TLS session, once {@link #startTls} has run. */
  public SSLSession tlsSession() {
    return ((SSLSocket) socket).getSession();
  }

  /** IDENTIFY (nsqd's defaults), SUB and RDY; fails unless SUB is answered OK. */
  public static NsqSocket subscribe(int port, String topic, String channel, int rdy) throws IOException {
    return subscribe(port, topic, channel, rdy, "{\"client_id\":\"test\",\"hostname\":\"test-host\",\"user_agent\":\"herald-test/1\"}");
  }

  /** The same, identifying with this JSON. */
  public static NsqSocket subscribe(int port, String topic, String channel, int rdy, String identify) throws IOException {
    NsqSocket s = new NsqSocket(port);
    Frame answer = s.identify(identify);
    if (answer.type() != 0) throw new AssertionError("IDENTIFY answered " + answer);
    s.send("SUB " + topic + " " + channel);
    Frame ok = s.next(Duration.ofSeconds(30));
    if (!(ok.type() == 0 && ok.text().equals("OK"))) throw new AssertionError("SUB answered " + ok);
    if (rdy > 0) s.send("RDY " + rdy);
    return s;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
