package herald.security;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * An nsqauthd-compatible auth server (--auth-http-address), asked as nsqd asks it:
 * {@code GET /auth?remote_ip=&tls=&secret=&common_name=}, answered with {"ttl", "identity",
 * "identity_url", "authorizations": [{"permissions", "topic", "channels"}]}. An answer is kept for
 * its ttl (seconds). Anything but a valid 200 answer refuses the secret, as nsqd's E_AUTH_FAILED
 * does; several addresses are tried from a random one on, like nsqd.
 */
public final class AuthServer implements Authorizer {
  private static final Logger log = LoggerFactory.getLogger(AuthServer.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration TIMEOUT = Duration.ofSeconds(2);
  /** An identity's answer is a few hundred bytes; thousands of authorizations fit in this. */
  private static final int MAX_ANSWER_BYTES = 1 << 20;
  /** Beyond this many cached answers, expired ones are dropped before adding more. */
  private static final int CACHE_LIMIT = 10_000;

  private final List<String> endpoints;
  private final HttpClient client = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
  private final ConcurrentHashMap<Credentials, Identity> cache = new ConcurrentHashMap<>();

  public AuthServer(List<String> addresses) {
    List<String> e = new ArrayList<>();
    for (String a : addresses) e.add(a.contains("://") ? a : "http://" + a + "/auth");
    this.endpoints = List.copyOf(e);
  }

  @Override
  public CompletionStage<Optional<Identity>> identify(Credentials credentials) {
    long now = System.currentTimeMillis();
    Identity cached = cache.get(credentials);
    if (cached != null && !cached.expired(now)) return CompletableFuture.completedFuture(Optional.of(cached));
    return ask(credentials, ThreadLocalRandom.current().nextInt(endpoints.size()), 0).thenApply(answer -> {
      answer.ifPresent(identity -> {
        if (cache.size() >= CACHE_LIMIT) cache.values().removeIf(i -> i.expired(System.currentTimeMillis()));
        cache.put(credentials, identity);
      });
      if (answer.isEmpty()) cache.remove(credentials);
      return answer;
    });
  }

  private CompletionStage<Optional<Identity>> ask(Credentials c, int start, int tried) {
    if (tried == endpoints.size()) return CompletableFuture.completedFuture(Optional.empty());
    String endpoint = endpoints.get((start + tried) % endpoints.size());
    String query = "remote_ip=" + enc(c.remoteIp()) + "&tls=" + c.tls() + "&secret=" + enc(c.secret())
        + "&common_name=" + enc(c.commonName());
    HttpRequest request = HttpRequest.newBuilder(URI.create(endpoint + "?" + query)).timeout(TIMEOUT).GET().build();
    return client.sendAsync(request, BoundedBody.handler(MAX_ANSWER_BYTES))
        .thenApply(response -> {
          if (response.statusCode() != 200) {
            // nsqauthd answers an unknown secret with a non-200: a refusal, not an outage.
            log.debug("auth server {} refused {}: {}", endpoint, c, response.statusCode());
            return Optional.of(Optional.<Identity>empty());
          }
          return Optional.of(Optional.of(parse(response.body(), System.currentTimeMillis())));
        })
        .exceptionally(failure -> {
          log.warn("auth server {} gave no usable answer for {}: {}", endpoint, c, failure.getMessage());
          return Optional.empty();
        })
        .thenCompose(answer -> answer.isPresent()
            ? CompletableFuture.completedFuture(answer.get())
            : ask(c, start, tried + 1));
  }

  /** nsqd's checks on an answer: known permissions, patterns that compile, a ttl above 0. */
  static Identity parse(String body, long nowMillis) {
    JsonNode root;
    try {
      root = JSON.readTree(body);
    } catch (IOException e) {
      throw new IllegalArgumentException("auth server answer is not JSON");
    }
    int ttl = root.path("ttl").asInt(0);
    if (ttl <= 0) throw new IllegalArgumentException("invalid TTL " + ttl + " (must be >0)");
    return new Identity(root.path("identity").asText(""), root.path("identity_url").asText(""),
        Grant.listFrom(root.path("authorizations")), nowMillis + ttl * 1000L);
  }

  private static String enc(String s) {
    return URLEncoder.encode(s == null ? "" : s, StandardCharsets.UTF_8);
  }

  @Override
  public String describe() {
    return "auth server " + String.join(", ", endpoints);
  }
}
