package herald.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import herald.settings.FileProblem;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the tools share: a node's HTTP address, plain requests, and one-line failures. */
final class NodeClient {
  static final String DEFAULT_ADDRESS = "127.0.0.1:4151";
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
  static final ObjectMapper JSON = new ObjectMapper();

  /** A failure the tool reports as one line and exit code 1. */
  static final class Failure extends Exception {
    Failure(String message) {
      super(message, null, false, false);
    }
  }

  final URI base;
  final HttpClient http;
  /** "Bearer SECRET" for a node with identities. */
  private final Optional<String> authorization;

  NodeClient(URI base, Optional<String> secret) {
    this.base = base;
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(CONNECT_TIMEOUT).build();
    this.authorization = secret.map(s -> "Bearer " + s);
  }

  /** HOST:PORT or http://HOST:PORT; a bad address or an unreadable secret file is a usage error (exit code 2). */
  static NodeClient of(CommandLine cl, String address, SecretOption secret) {
    return new NodeClient(baseUri(cl, address), secret.secret(cl));
  }

  /** Adds the secret, if any, to a request or a WebSocket handshake. */
  <B> B authorized(B builder, java.util.function.BiFunction<B, String, B> header) {
    return authorization.map(a -> header.apply(builder, a)).orElse(builder);
  }

  /** The base URI of a node from an --http value: HOST:PORT or http(s)://HOST:PORT. */
  static URI baseUri(CommandLine cl, String address) {
    String a = address.trim();
    if (!a.contains("://")) a = "http://" + a;
    while (a.endsWith("/")) a = a.substring(0, a.length() - 1);
    try {
      URI u = new URI(a);
      if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null || u.getPort() < 0
          || (u.getPath() != null && !u.getPath().isEmpty())) {
        throw new IllegalArgumentException();
      }
      return u;
    } catch (Exception e) {
      throw new ParameterException(cl, "--http must be HOST:PORT or http://HOST:PORT, got '" + address + "'");
    }
  }

  static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  /** GET /ping: a node that does not answer is a Failure that says so. */
  void ping() throws Failure {
    HttpResponse<String> r = get("/ping");
    if (r.statusCode() != 200) throw new Failure("herald at " + base + " answered GET /ping with HTTP " + r.statusCode());
  }

  HttpResponse<String> get(String pathAndQuery) throws Failure {
    return send("GET " + path(pathAndQuery), HttpRequest.newBuilder(base.resolve(pathAndQuery)).GET());
  }

  HttpResponse<String> post(String pathAndQuery, byte[] body) throws Failure {
    return send("POST " + path(pathAndQuery),
        HttpRequest.newBuilder(base.resolve(pathAndQuery)).POST(HttpRequest.BodyPublishers.ofByteArray(body)));
  }

  /** GET and parse JSON; anything but 200 is a Failure. */
  JsonNode getJson(String pathAndQuery) throws Failure {
    HttpResponse<String> r = get(pathAndQuery);
    if (r.statusCode() != 200) throw new Failure("GET " + path(pathAndQuery) + " answered " + status(r));
    try {
      return JSON.readTree(r.body());
    } catch (IOException e) {
      throw new Failure("GET " + path(pathAndQuery) + " answered something that is not JSON");
    }
  }

  /** ws:// or wss:// for the same node. */
  URI ws(String pathAndQuery) {
    String scheme = base.getScheme().equals("https") ? "wss" : "ws";
    return URI.create(scheme + "://" + base.getRawAuthority() + pathAndQuery);
  }

  private HttpResponse<String> send(String what, HttpRequest.Builder request) throws Failure {
    try {
      HttpRequest.Builder b = authorized(request, (r, a) -> r.header("Authorization", a));
      return http.send(b.timeout(REQUEST_TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Failure(what + " interrupted");
    } catch (IOException e) {
      throw new Failure(unreachable(e));
    }
  }

  /** "cannot reach herald at http://host:port (connection refused)". */
  String unreachable(Throwable e) {
    return "cannot reach herald at " + base + " (" + describe(e) + ")";
  }

  /** "HTTP 413 MSG_TOO_BIG", or the status alone. */
  static String status(HttpResponse<String> r) {
    return status(r.statusCode(), r.body());
  }

  /** The same from a status and a body; a node asking for a secret none was given for says how to give one. */
  static String status(int status, String body) {
    String code = "";
    try {
      JsonNode j = JSON.readTree(body);
      if (j != null && j.hasNonNull("message")) code = " " + j.get("message").asText();
    } catch (Exception ignored) {
      // not an nsqd error body
    }
    String hint = code.equals(" AUTH_REQUIRED") ? " (this node asks for a secret: --secret-file FILE or " + SecretOption.ENV + ")" : "";
    return "HTTP " + status + code + hint;
  }

  /** An exception as a short phrase, unwrapped from futures. */
  static String describe(Throwable e) {
    Throwable t = e;
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) t = t.getCause();
    if (t instanceof HttpConnectTimeoutException) return "connect timed out";
    if (t instanceof HttpTimeoutException) return "request timed out";
    // Unresolved first: the JDK wraps it in a ConnectException.
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof UnresolvedAddressException || c instanceof java.net.UnknownHostException) return "unknown host";
    }
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof ConnectException) return "connection refused";
    }
    String file = FileProblem.of(t);
    if (file != null) return file;
    String msg = null;
    for (Throwable c = t; c != null && (msg == null || msg.isBlank()); c = c.getCause()) msg = c.getMessage();
    return msg == null || msg.isBlank() ? t.getClass().getSimpleName() : msg;
  }

  private static String path(String pathAndQuery) {
    int q = pathAndQuery.indexOf('?');
    return q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
  }

  /** 500ms, 10s, 1m, 2h. */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    private static final Pattern P = Pattern.compile("(\\d+)\\s*(ms|s|m|h)");

    @Override
    public Duration convert(String value) {
      Matcher m = P.matcher(value.trim());
      if (!m.matches()) throw new CommandLine.TypeConversionException("'" + value + "' is not a duration such as 500ms, 10s, 1m or 1h");
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        default -> Duration.ofHours(n);
      };
    }
  }

  /** 1000, 64k, 100m, 1g (powers of 1024). */
  static final class SizeConverter implements CommandLine.ITypeConverter<Long> {
    private static final Pattern P = Pattern.compile("(\\d+)\\s*([kKmMgG]?)[bB]?");

    @Override
    public Long convert(String value) {
      Matcher m = P.matcher(value.trim());
      if (!m.matches()) throw new CommandLine.TypeConversionException("'" + value + "' is not a size such as 1000, 64k, 100m or 1g");
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2).toLowerCase()) {
        case "k" -> n << 10;
        case "m" -> n << 20;
        case "g" -> n << 30;
        default -> n;
      };
    }
  }
}
