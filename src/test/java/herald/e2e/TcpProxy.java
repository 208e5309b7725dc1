package herald.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP proxy on a port of the OS's choice in front of 127.0.0.1:target, that a test can cut as a
 * network partition would: while cut, nothing passes either way and no new connection reaches the
 * target (the client's sockets stay open and hang). On heal, the connections that lived through the
 * cut are reset (as after a long partition) and new ones go through again.
 */
public final class TcpProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int target;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final Object lock = new Object();
  private boolean cut;          // guarded by lock
  private List<Socket> throughCut = List.of();

  private TcpProxy(ServerSocket server, int target) {
    this.server = server;
    this.target = target;
  }

  public static TcpProxy start(int target) throws IOException {
    TcpProxy proxy = new TcpProxy(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()), target);
    Thread accept = new Thread(proxy::acceptLoop, "proxy-accept-" + target);
    accept.setDaemon(true);
    accept.start();
    return proxy;
  }

  public int port() {
    return server.getLocalPort();
  }

  public void cut() {
    synchronized (lock) {
      cut = true;
      throughCut = List.copyOf(open);
    }
  }

  public void heal() {
    List<Socket> reset;
    synchronized (lock) {
      cut = false;
      reset = throughCut;
      throughCut = List.of();
      lock.notifyAll();
    }
    reset.forEach(this::reset);
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        open.add(client);
        Thread t = new Thread(() -> connect(client), "proxy-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return;
      }
    }
  }

  private void connect(Socket client) {
    if (waitWhileCut()) {
      reset(client);   // it waited through a cut: as dead as the others
      return;
    }
    try {
      Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
      open.add(upstream);
      pump(client, upstream);
      pump(upstream, client);
    } catch (IOException e) {
      reset(client);
    }
  }

  /** Waits while the link is cut; true if it had to. */
  private boolean waitWhileCut() {
    synchronized (lock) {
      boolean waited = false;
      while (cut) {
        waited = true;
        try {
          lock.wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return true;
        }
      }
      return waited;
    }
  }

  private void pump(Socket from, Socket to) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[16 * 1024];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        int n;
        while ((n = in.read(buf)) >= 0) {
          // Read during a cut: held until the heal, which resets this connection (the bytes are lost).
          if (waitWhileCut()) break;
          out.write(buf, 0, n);
        }
      } catch (IOException e) {
        // the other side went away, or the heal reset the connection
      }
      reset(from);
      reset(to);
    }, "proxy-pump");
    t.setDaemon(true);
    t.start();
  }

  private void reset(Socket s) {
    open.remove(s);
    try {
      s.setSoLinger(true, 0);
      s.close();
    } catch (IOException ignored) {
      // already closed
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    heal();
    open.forEach(this::reset);
  }
}
