package herald.cli;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * One NSQ TCP (V2) connection for a bench publisher: a command in flight, its answer read back,
 * as nsq's bench_writer does. Works against Herald and against nsqd alike.
 */
final class BenchNsqConnection implements Closeable {
  private static final byte[] MAGIC = "  V2".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] NOP = "NOP\n".getBytes(StandardCharsets.US_ASCII);

  private final InetSocketAddress address;
  private final Duration connectTimeout;
  private final Duration readTimeout;
  private Socket socket;
  private DataInputStream in;
  private OutputStream out;

  BenchNsqConnection(InetSocketAddress address, Duration connectTimeout, Duration readTimeout) {
    this.address = address;
    this.connectTimeout = connectTimeout;
    this.readTimeout = readTimeout;
  }

  static InetSocketAddress address(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0) throw new IllegalArgumentException("--tcp must be HOST:PORT, got '" + hostPort + "'");
    return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
  }

  /** Sends one PUB or MPUB (whole, with its body); null when answered OK, else the error code. */
  String publish(byte[] command) throws IOException {
    if (socket == null) connect();
    try {
      out.write(command);
      out.flush();
      while (true) {
        int size = in.readInt();
        int type = in.readInt();
        byte[] data = new byte[size - 4];
        in.readFully(data);
        String text = new String(data, StandardCharsets.UTF_8);
        if (type == 0 && text.equals("_heartbeat_")) {
          out.write(NOP);
          out.flush();
          continue;
        }
        if (type == 0 && text.equals("OK")) return null;
        close(); // an error frame is fatal for NSQ publishes: the node closes the connection
        int space = text.indexOf(' ');
        return type == 1 ? (space > 0 ? text.substring(0, space) : text) : "unexpected frame";
      }
    } catch (IOException e) {
      close();
      throw e;
    }
  }

  private void connect() throws IOException {
    Socket s = BenchConnection.open(address, connectTimeout, readTimeout);
    try {
      in = new DataInputStream(new BufferedInputStream(s.getInputStream(), 16 * 1024));
      out = s.getOutputStream();
      out.write(MAGIC);
      socket = s;
    } catch (IOException e) {
      s.close();
      throw e;
    }
  }

  @Override
  public void close() {
    Socket s = socket;
    socket = null;
    BenchConnection.closeQuietly(s);
  }
}
