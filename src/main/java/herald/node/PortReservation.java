package herald.node;

import herald.settings.Settings;
import org.apache.pekko.io.Inet;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.util.List;

/**
 * The port of a listener, chosen by the OS when the address asks for port 0. A member's addresses
 * travel with it from the moment the cluster starts, before pekko-http or Pekko TCP can bind, so
 * the port must be known first and must stay ours until the listener takes it. It is held by a
 * bound socket that never listens (so it accepts nothing); it and the listener both set
 * SO_REUSEPORT, which Linux allows for sockets of one user. A fixed port holds nothing.
 */
final class PortReservation implements AutoCloseable {
  private final Socket holder;
  private final int port;

  private PortReservation(Socket holder, int port) {
    this.holder = holder;
    this.port = port;
  }

  static PortReservation of(Settings.HostPort address, String flag) {
    if (address.port() != 0) return new PortReservation(null, address.port());
    Socket s = new Socket();
    try {
      s.setOption(StandardSocketOptions.SO_REUSEPORT, true);
      s.bind(new InetSocketAddress(address.host(), 0));
      return new PortReservation(s, s.getLocalPort());
    } catch (IOException | UnsupportedOperationException e) {
      close(s);
      throw new IllegalArgumentException("cannot choose a port for " + flag + " " + address.host() + ":0: " + e.getMessage());
    }
  }

  int port() {
    return port;
  }

  /** The listener's socket options: it shares the port with the holder until the holder closes. */
  List<Inet.SocketOption> listenerOptions() {
    if (holder == null) return List.of();
    return List.of(new Inet.AbstractSocketOption() {
      @Override
      public void beforeServerSocketBind(ServerSocket s) {
        try {
          s.setOption(StandardSocketOptions.SO_REUSEPORT, true);
        } catch (IOException e) {
          throw new IllegalStateException("SO_REUSEPORT: " + e.getMessage(), e);
        }
      }
    });
  }

  @Override
  public void close() {
    if (holder != null) close(holder);
  }

  private static void close(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // nothing was sent on it; the port is free either way
    }
  }
}
