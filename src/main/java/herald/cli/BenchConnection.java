package herald.cli;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;

/**
 * One keep-alive HTTP/1.1 connection for a bench publisher's POSTs, on a blocking socket, as
 * wrk and nsq's bench_writer do. The JDK's HttpClient was the bench's own limit: on 2 cores it
 * published 5k /pub requests/s where wrk drove the same node to 19k, and it added about 2.5 ms of
 * hand-offs to every request's latency.
 */
final class BenchConnection implements Closeable {
  record Response(int status, String body) {}

  private static final int MAX_HEADER_LINE = 8192;

  private final InetSocketAddress address;
  private final String hostHeader;
  private final Duration connectTimeout;
  private final Duration readTimeout;
  private Socket socket;
  private InputStream in;
  private OutputStream out;

  BenchConnection(URI base, Duration connectTimeout, Duration readTimeout) {
    int port = base.getPort() < 0 ? 80 : base.getPort();
    this.address = new InetSocketAddress(base.getHost(), port);
    this.hostHeader = base.getHost() + ":" + port;
    this.connectTimeout = connectTimeout;
    this.readTimeout = readTimeout;
  }

  /** Sends one POST and reads its whole response; on any failure the connection is dropped. */
  Response post(String pathAndQuery, String contentType, byte[] body) throws IOException {
    return post(pathAndQuery, contentType, body, null);
  }

  /** The same with one more header line, "Name: value" (or null for none). */
  Response post(String pathAndQuery, String contentType, byte[] body, String header) throws IOException {
    try {
      if (socket == null) connect();
      String head = "POST " + pathAndQuery + " HTTP/1.1\r\nHost: " + hostHeader + "\r\nContent-Type: " + contentType
          + (header == null ? "" : "\r\n" + header) + "\r\nContent-Length: " + body.length + "\r\n\r\n";
      out.write(head.getBytes(StandardCharsets.ISO_8859_1));
      out.write(body);
      out.flush();
      return readResponse();
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
  }

  private void connect() throws IOException {
    Socket s = open(address, connectTimeout, readTimeout);
    socket = s;
    in = new BufferedInputStream(s.getInputStream(), 16 * 1024);
    out = new BufferedOutputStream(s.getOutputStream(), 64 * 1024);
  }

  private Response readResponse() throws IOException {
    String status = line();
    String[] parts = status.split(" ", 3);
    if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) throw new IOException("not an HTTP response: " + status);
    int code;
    try {
      code = Integer.parseInt(parts[1]);
    } catch (NumberFormatException e) {
      throw new IOException("not an HTTP status: " + status);
    }
    long length = -1;
    boolean chunked = false;
    boolean close = false;
    for (String header = line(); !header.isEmpty(); header = line()) {
      int colon = header.indexOf(':');
      if (colon < 0) continue;
      String name = header.substring(0, colon).trim().toLowerCase(Locale.ROOT);
      String value = header.substring(colon + 1).trim();
      switch (name) {
        case "content-length" -> length = Long.parseLong(value);
        case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
        case "connection" -> close = value.equalsIgnoreCase("close");
        default -> { }
      }
    }
    byte[] body;
    if (chunked) body = chunkedBody();
    else if (length >= 0) body = exactly(length);
    else {
      body = in.readAllBytes(); // no length: the body runs to the end of the connection
      close = true;
    }
    if (close) close();
    return new Response(code, new String(body, StandardCharsets.UTF_8));
  }

  private byte[] chunkedBody() throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    while (true) {
      String sizeLine = line();
      int semicolon = sizeLine.indexOf(';');
      long size = Long.parseLong((semicolon < 0 ? sizeLine : sizeLine.substring(0, semicolon)).trim(), 16);
      if (size == 0) break;
      all.writeBytes(exactly(size));
      line(); // the CRLF after the chunk
    }
    while (!line().isEmpty()) { } // trailers
    return all.toByteArray();
  }

  private byte[] exactly(long n) throws IOException {
    if (n > Integer.MAX_VALUE) throw new IOException("response body too large: " + n);
    byte[] b = in.readNBytes((int) n);
    if (b.length < n) throw new EOFException("connection closed in a response body");
    return b;
  }

  /** One header line without its CRLF. */
  private String line() throws IOException {
    StringBuilder sb = new StringBuilder();
    while (true) {
      int c = in.read();
      if (c < 0) throw new EOFException("connection closed by the node");
      if (c == '\n') break;
      if (c != '\r') sb.append((char) c);
      if (sb.length() > MAX_HEADER_LINE) throw new IOException("response header line too long");
    }
    return sb.toString();
  }

  /** A blocking socket for a bench connection, no Nagle delay: requests go out whole. */
  static Socket open(InetSocketAddress address, Duration connectTimeout, Duration readTimeout) throws IOException {
    Socket s = new Socket();
    try {
      s.setTcpNoDelay(true);
      s.connect(address, (int) connectTimeout.toMillis());
      s.setSoTimeout((int) readTimeout.toMillis());
      return s;
    } catch (IOException e) {
      s.close();
      throw e;
    }
  }

  @Override
  public void close() {
    Socket s = socket;
    socket = null;
    closeQuietly(s);
  }

  /** Drops a bench connection (null: none); a failure to close changes nothing. */
  static void closeQuietly(Socket s) {
    if (s == null) return;
    try {
      s.close();
    } catch (IOException e) {
      // closing anyway
    }
  }
}
