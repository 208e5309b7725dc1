package herald.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bench's HTTP/1.1 connection against a scripted server: the response shapes a node or a proxy
 * in front of it may send (length, chunked, close), and what goes on the wire.
 */
class BenchConnectionTest {
  private ServerSocket server;
  private final List<String> requests = new CopyOnWriteArrayList<>();
  private final AtomicInteger connections = new AtomicInteger();

  @AfterEach
  void stop() throws IOException {
    if (server != null) server.close();
  }

  /** Serves the given raw responses in order, one per request, over as many connections as asked. */
  private URI serve(String... responses) throws IOException {
    server = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
    Thread t = new Thread(() -> {
      int next = 0;
      while (next < responses.length) {
        try (Socket s = server.accept()) {
          connections.incrementAndGet();
          InputStream in = s.getInputStream();
          OutputStream out = s.getOutputStream();
          while (next < responses.length) {
            String request = readRequest(in);
            if (request == null) break;
            requests.add(request);
            String response = responses[next++];
            out.write(response.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            if (response.contains("Connection: close")) break;
          }
        } catch (IOException e) {
          return;
        }
      }
    });
    t.setDaemon(true);
    t.start();
    return URI.create("http://127.0.0.1:" + server.getLocalPort());
  }

  /** Head and body of one request (by its Content-Length), or null at the end of the stream. */
  private static String readRequest(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) >= 0) {
      head.write(c);
      if (head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) break;
    }
    if (c < 0) return null;
    String h = head.toString(StandardCharsets.ISO_8859_1);
    int at = h.indexOf("Content-Length: ") + "Content-Length: ".length();
    int length = Integer.parseInt(h.substring(at, h.indexOf("\r\n", at)));
    return h + new String(in.readNBytes(length), StandardCharsets.ISO_8859_1);
  }

  private static BenchConnection connect(URI base) {
    return new BenchConnection(base, Duration.ofSeconds(5), Duration.ofSeconds(5));
  }

  @Test
  void keepsOneConnectionForManyRequestsAndSendsWhatItIsGiven() throws Exception {
    URI base = serve(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK",
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 27\r\n\r\n{\"message\":\"INVALID_TOPIC\"}");
    try (BenchConnection c = connect(base)) {
      assertEquals(new BenchConnection.Response(200, "OK"), c.post("/pub?topic=t", "application/octet-stream", "hello".getBytes()));
      assertEquals(new BenchConnection.Response(400, "{\"message\":\"INVALID_TOPIC\"}"),
          c.post("/pub?topic=bad!", "application/octet-stream", new byte[0]));
    }
    assertEquals(1, connections.get());
    assertTrue(requests.get(0).startsWith("POST /pub?topic=t HTTP/1.1\r\n"), requests.get(0));
    assertTrue(requests.get(0).contains("\r\nContent-Length: 5\r\n"), requests.get(0));
    assertTrue(requests.get(0).endsWith("\r\n\r\nhello"), requests.get(0));
  }

  @Test
  void readsChunkedBodiesAndReconnectsAfterConnectionClose() throws Exception {
    URI base = serve(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n3;ext=1\r\n!!!\r\n0\r\n\r\n",
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    try (BenchConnection c = connect(base)) {
      assertEquals(new BenchConnection.Response(200, "OK!!!"), c.post("/mpub?topic=t", "text/plain", "a\nb".getBytes()));
      assertEquals(new BenchConnection.Response(503, "busy"), c.post("/mpub?topic=t", "text/plain", "c".getBytes()));
      assertEquals(new BenchConnection.Response(200, ""), c.post("/mpub?topic=t", "text/plain", "d".getBytes()));
    }
    assertEquals(2, connections.get(), "a new connection after the server's Connection: close");
  }

  @Test
  void aResponseCutShortIsAnErrorAndTheNextRequestReconnects() throws Exception {
    URI base = serve("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nOK", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
    try (BenchConnection c = connect(base)) {
      assertThrows(IOException.class, () -> c.post("/pub?topic=t", "text/plain", "x".getBytes()));
      assertEquals(new BenchConnection.Response(200, "OK"), c.post("/pub?topic=t", "text/plain", "y".getBytes()));
    }
    assertEquals(2, connections.get());
  }

  @Test
  void notHttpIsAnError() throws Exception {
    URI base = serve("SSH-2.0-OpenSSH\r\n\r\n");
    try (BenchConnection c = connect(base)) {
      IOException e = assertThrows(IOException.class, () -> c.post("/pub?topic=t", "text/plain", "x".getBytes()));
      assertTrue(e.getMessage().contains("not an HTTP response"), e.getMessage());
    }
  }
}
