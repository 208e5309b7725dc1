package herald.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import herald.security.Authorizer;
import herald.security.Credentials;
import herald.security.Grant;
import herald.security.Identity;
import herald.security.Right;
import herald.security.ServerTls;
import org.apache.pekko.http.javadsl.model.AttributeKeys;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.WebSocketUpgrade;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The door every HTTP request and WebSocket upgrade passes before any route: TLS when required,
 * the browser's Origin on anything that changes state, then the client's identity and the right
 * the request needs (see {@link Access}). Routes never see a request that failed here, and no
 * entity ever checks rights.
 */
public final class Guard extends AllDirectives {
  /** Who the caller is and what it may do (the console asks, to offer only allowed actions). */
  public static final String IDENTITY_PATH = "/identity";
  /**
   * Browsers cannot set headers on a WebSocket, so the console offers its secret as a subprotocol
   * (as Kubernetes does): "herald" plus this prefix and the secret in unpadded base64url.
   */
  public static final String WS_PROTOCOL = "herald";
  public static final String WS_BEARER_PREFIX = "base64url.bearer.herald.";

  private static final ObjectMapper JSON = new ObjectMapper();
  /**
   * On every answer: no framing (clickjacking the console), no MIME sniffing, nothing but the
   * node's own scripts, styles and connections (ws/wss to the same host included).
   */
  private static final List<HttpHeader> BROWSER_HEADERS = List.of(
      RawHeader.create("X-Content-Type-Options", "nosniff"),
      RawHeader.create("X-Frame-Options", "DENY"),
      RawHeader.create("Content-Security-Policy",
          "default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; "
              + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
      RawHeader.create("Referrer-Policy", "no-referrer"));

  private final Optional<Authorizer> authorizer;
  private final Set<String> allowedOrigins;
  private final boolean tls;
  private final boolean tlsRequired;
  private final int httpsPort;

  /**
   * @param tls whether this guard stands at a TLS listener
   * @param tlsRequired on a plain listener, refuse everything but /ping and name the HTTPS port
   */
  public Guard(Optional<Authorizer> authorizer, Set<String> allowedOrigins, boolean tls, boolean tlsRequired, int httpsPort) {
    this.authorizer = authorizer;
    this.allowedOrigins = allowedOrigins;
    this.tls = tls;
    this.tlsRequired = tlsRequired;
    this.httpsPort = httpsPort;
  }

  public Route wrap(Route inner) {
    // Built once, outside the supplier: the Java DSL calls it for every request.
    Route checked = extractRequest(request -> {
      if (!tls && tlsRequired && !request.getUri().path().equals("/ping")) {
        return complete(HttpApi.nsqV1(HttpResponse.create().withStatus(StatusCodes.FORBIDDEN).withEntity(ContentTypes.APPLICATION_JSON,
            "{\"message\":\"TLS_REQUIRED\",\"https_port\":" + httpsPort + "}")));
      }
      if (!originAllowed(request)) return complete(refused(StatusCodes.FORBIDDEN, "FORBIDDEN_ORIGIN"));
      Optional<Access> access = Access.of(request);
      if (access.isEmpty()) return inner;
      if (authorizer.isEmpty()) return admitted(request, Identity.ANYONE, access.get(), inner);
      Optional<String> secret = secret(request);
      if (secret.isEmpty()) return complete(unauthenticated("AUTH_REQUIRED"));
      Credentials credentials = new Credentials(secret.get(), remoteIp(request), tls, commonName(request));
      return onSuccess(() -> authorizer.get().identify(credentials).exceptionally(e -> Optional.empty()), identity ->
          identity.isEmpty()
              ? complete(unauthenticated("AUTH_FAILED"))
              : admitted(request, identity.get(), access.get(), inner));
    });
    return respondWithDefaultHeaders(BROWSER_HEADERS, () -> checked);
  }

  private Route admitted(HttpRequest request, Identity identity, Access access, Route inner) {
    if (access.right() != null && !identity.allows(access.right(), access.topic(), access.channel())) {
      return complete(refused(StatusCodes.FORBIDDEN, "UNAUTHORIZED"));
    }
    if (request.getUri().path().equals(IDENTITY_PATH)) {
      if (!request.method().equals(HttpMethods.GET)) return complete(refused(StatusCodes.METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"));
      return complete(HttpApi.nsqV1(HttpResponse.create().withEntity(ContentTypes.APPLICATION_JSON, describe(identity))));
    }
    return inner;
  }

  /** Accepts an upgrade, answering with the "herald" subprotocol when the client (the console) offered it. */
  static HttpResponse accept(WebSocketUpgrade upgrade, Flow<Message, Message, NotUsed> flow) {
    for (String p : upgrade.getRequestedProtocols()) {
      if (p.equals(WS_PROTOCOL)) return upgrade.handleMessagesWith(flow, WS_PROTOCOL);
    }
    return upgrade.handleMessagesWith(flow);
  }

  private static HttpResponse unauthenticated(String code) {
    return refused(StatusCodes.UNAUTHORIZED, code).addHeader(RawHeader.create("WWW-Authenticate", "Bearer realm=\"herald\""));
  }

  /** An API error as the routes answer it, nsqd's content-type mark included. */
  private static HttpResponse refused(StatusCode status, String code) {
    return HttpApi.nsqV1(ApiError.response(status, code));
  }

  private String describe(Identity identity) {
    ObjectNode root = JSON.createObjectNode();
    root.put("auth_required", authorizer.isPresent());
    root.put("identity", identity.name());
    root.put("identity_url", identity.url());
    ArrayNode grants = root.putArray("authorizations");
    for (Grant g : identity.grants()) {
      ObjectNode o = grants.addObject();
      o.put("topic", g.topic().pattern());
      ArrayNode channels = o.putArray("channels");
      g.channels().forEach(c -> channels.add(c.pattern()));
      ArrayNode permissions = o.putArray("permissions");
      for (Right r : Right.values()) if (g.rights().contains(r)) permissions.add(r.wireName());
    }
    return root.toString();
  }

  // ---- browsers -------------------------------------------------------------------------------

  /**
   * A browser names the page that sent a request in Origin. Reading is harmless (the page cannot
   * read the answer without CORS, which the node never grants), so only requests that change
   * state and WebSocket upgrades (which browsers let any page open) are checked: they must come
   * from the node's own origin or an --allowed-origins one. No Origin: not a browser, not checked.
   */
  private boolean originAllowed(HttpRequest request) {
    boolean reading = request.method().equals(HttpMethods.GET) || request.method().equals(HttpMethods.HEAD)
        || request.method().equals(HttpMethods.OPTIONS);
    if (reading && request.getAttribute(AttributeKeys.webSocketUpgrade).isEmpty()) return true;
    Optional<HttpHeader> origin = request.getHeader("Origin");
    if (origin.isEmpty()) return true;
    String given = normalize(origin.get().value());
    if (given == null) return false;
    if (allowedOrigins.contains(given)) return true;
    String host = request.getHeader("Host").map(HttpHeader::value).orElse("");
    return given.equals(normalize((tls ? "https://" : "http://") + host));
  }

  /** scheme://host:port in lower case with the default port made explicit; null if not an origin ("null" included). */
  public static String normalize(String origin) {
    try {
      URI u = new URI(origin.trim());
      if (u.getScheme() == null || u.getHost() == null) return null;
      String scheme = u.getScheme().toLowerCase(Locale.ROOT);
      int port = u.getPort() != -1 ? u.getPort() : scheme.equals("https") ? 443 : scheme.equals("http") ? 80 : -1;
      return scheme + "://" + u.getHost().toLowerCase(Locale.ROOT) + ":" + port;
    } catch (Exception e) {
      return null;
    }
  }

  // ---- credentials ----------------------------------------------------------------------------

  /** "Authorization: Bearer SECRET", or the WebSocket subprotocol a browser uses instead. */
  private static Optional<String> secret(HttpRequest request) {
    Optional<String> header = request.getHeader("Authorization").map(HttpHeader::value)
        .filter(v -> v.regionMatches(true, 0, "Bearer ", 0, 7))
        .map(v -> v.substring(7).trim())
        .filter(v -> !v.isEmpty());
    if (header.isPresent()) return header;
    Optional<WebSocketUpgrade> upgrade = request.getAttribute(AttributeKeys.webSocketUpgrade);
    if (upgrade.isEmpty()) return Optional.empty();
    for (String p : upgrade.get().getRequestedProtocols()) {
      if (!p.startsWith(WS_BEARER_PREFIX)) continue;
      try {
        return Optional.of(new String(Base64.getUrlDecoder().decode(p.substring(WS_BEARER_PREFIX.length())), StandardCharsets.UTF_8));
      } catch (IllegalArgumentException e) {
        return Optional.empty();
      }
    }
    return Optional.empty();
  }

  private static String remoteIp(HttpRequest request) {
    return request.getAttribute(AttributeKeys.remoteAddress)
        .flatMap(a -> a.getAddress())
        .map(InetAddress::getHostAddress)
        .orElse("");
  }

  /** The subject CN of the client's certificate, when it showed one; nsqauthd's common_name. */
  private static String commonName(HttpRequest request) {
    return ServerTls.commonName(request.getAttribute(AttributeKeys.sslSession).map(s -> s.getSession()).orElse(null));
  }
}
