package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A node with --auth-file: every endpoint and /sub asks who is there and whether it may. */
class AuthTest extends SharedNode {
  private static final HttpClient CLIENT = HttpClient.newHttpClient();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String T = "auth-orders";
  private static final String OTHER = "auth-other";
  /** Identity name -> secret; each holds one right on T (or, for stats, everywhere). */
  private static final Map<String, String> SECRETS = Map.of(
      "publisher", "pub-secret", "consumer", "sub-secret", "admin", "admin-secret",
      "channel-admin", "chadmin-secret", "stats", "stats-secret", "nobody", "nobody-secret");
  private static final String IDENTITIES = """
      {"identities": [
        {"identity": "publisher", "secret": "pub-secret",
         "authorizations": [{"topic": "^auth-orders$", "permissions": ["publish"]}]},
        {"identity": "consumer", "secret_sha256": "%s",
         "authorizations": [{"topic": "^auth-orders$", "channels": ["^workers$"], "permissions": ["subscribe"]}]},
        {"identity": "admin", "secret": "admin-secret",
         "authorizations": [{"topic": "^auth-orders$", "permissions": ["admin"]}]},
        {"identity": "channel-admin", "secret": "chadmin-secret",
         "authorizations": [{"topic": "^auth-orders$", "channels": ["^workers$"], "permissions": ["admin"]}]},
        {"identity": "stats", "secret": "stats-secret",
         "authorizations": [{"topic": "^nothing$", "permissions": ["stats"]}]},
        {"identity": "nobody", "secret": "nobody-secret", "authorizations": []}
        %s
      ]}
      """;
  private static Path authFile;

  @BeforeAll
  static void start() throws Exception {
    authFile = Files.createTempFile("herald-auth-", ".json");
    writeIdentities("");
    startNode("--auth-file", authFile.toString());
  }

  private static void writeIdentities(String more) throws Exception {
    Path tmp = Files.createTempFile(authFile.getParent(), "herald-auth-", ".tmp");
    Files.writeString(tmp, IDENTITIES.formatted(herald.security.AuthFile.sha256("sub-secret"), more));
    Files.move(tmp, authFile, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  record Endpoint(String method, String path, Set<String> allowed) {}

  @Test
  void everyEndpointNeedsItsRight() throws Exception {
    Set<String> admins = Set.of("admin");
    Set<String> channelAdmins = Set.of("admin", "channel-admin");
    String ch = "&channel=workers";
    List<Endpoint> endpoints = new ArrayList<>(List.of(
        new Endpoint("POST", "/topic/create?topic=" + T, admins),
        new Endpoint("POST", "/channel/create?topic=" + T + ch, channelAdmins),
        new Endpoint("POST", "/pub?topic=" + T, Set.of("publisher")),
        new Endpoint("POST", "/mpub?topic=" + T, Set.of("publisher")),
        new Endpoint("GET", "/stats?format=json", Set.of("stats")),
        new Endpoint("GET", "/metrics", Set.of("stats")),
        new Endpoint("GET", "/info", Set.of("stats")),
        new Endpoint("GET", "/nodes", Set.of("stats")),
        new Endpoint("GET", "/topics", Set.of("stats")),
        new Endpoint("GET", "/channels?topic=" + T, Set.of("stats")),
        new Endpoint("GET", "/lookup?topic=" + T, Set.of("stats"))));
    for (String op : List.of("pause", "unpause", "empty")) {
      endpoints.add(new Endpoint("POST", "/channel/" + op + "?topic=" + T + ch, channelAdmins));
      endpoints.add(new Endpoint("POST", "/topic/" + op + "?topic=" + T, admins));
    }
    endpoints.add(new Endpoint("POST", "/channel/delete?topic=" + T + ch, channelAdmins));
    endpoints.add(new Endpoint("POST", "/topic/delete?topic=" + T, admins));

    for (Endpoint e : endpoints) {
      String what = e.method() + " " + e.path();
      HttpResponse<String> none = call(e.method(), e.path(), null);
      assertEquals(401, none.statusCode(), what);
      assertEquals("AUTH_REQUIRED", code(none), what);
      assertEquals("Bearer realm=\"herald\"", none.headers().firstValue("WWW-Authenticate").orElse(""), what);
      assertEquals("nsq; version=1.0", none.headers().firstValue("X-NSQ-Content-Type").orElse(""), what);
      HttpResponse<String> wrong = call(e.method(), e.path(), "no-such-secret");
      assertEquals(401, wrong.statusCode(), what);
      assertEquals("AUTH_FAILED", code(wrong), what);
      for (var id : SECRETS.entrySet()) {
        if (e.allowed().contains(id.getKey())) continue;
        HttpResponse<String> refused = call(e.method(), e.path(), id.getValue());
        assertEquals(403, refused.statusCode(), what + " as " + id.getKey());
        assertEquals("UNAUTHORIZED", code(refused), what + " as " + id.getKey());
      }
      for (String allowed : e.allowed()) {
        // Channel admins act on their channel; the plain admin may delete it first, so each tries once.
        if (e.path().startsWith("/channel/delete") && allowed.equals("admin")) continue;
        HttpResponse<String> ok = call(e.method(), e.path(), SECRETS.get(allowed));
        assertEquals(200, ok.statusCode(), what + " as " + allowed + ": " + ok.body());
      }
    }
    // Rights on one topic are not rights on another.
    assertEquals(403, call("POST", "/pub?topic=" + OTHER, "pub-secret").statusCode());
    assertEquals(403, call("POST", "/topic/delete?topic=" + OTHER, "admin-secret").statusCode());
    // A channel admin may not act on the topic as a whole.
    assertEquals(403, call("POST", "/topic/delete?topic=" + T, "chadmin-secret").statusCode());
  }

  @Test
  void subscribingNeedsTheSubscribeRightOnTheChannel() throws Exception {
    String topic = T;
    assertEquals(200, call("POST", "/topic/create?topic=" + topic, "admin-secret").statusCode());
    String url = node.wsUrl() + "/sub?topic=" + topic + "&channel=workers";
    assertEquals(401, WsConsumer.refusal(CLIENT, url, Map.of()));
    assertEquals(401, WsConsumer.refusal(CLIENT, url, Map.of("Authorization", "Bearer wrong")));
    assertEquals(403, WsConsumer.refusal(CLIENT, url, Map.of("Authorization", "Bearer pub-secret")));
    assertEquals(403, WsConsumer.refusal(CLIENT, node.wsUrl() + "/sub?topic=" + topic + "&channel=other", Map.of("Authorization", "Bearer sub-secret")));
    assertEquals(403, WsConsumer.refusal(CLIENT, node.wsUrl() + "/sub?topic=" + OTHER + "&channel=workers", Map.of("Authorization", "Bearer sub-secret")));
    try (WsConsumer consumer = WsConsumer.subscribe(CLIENT, url, Map.of("Authorization", "Bearer sub-secret"))) {
      consumer.send("RDY 1");
      assertEquals(200, call("POST", "/pub?topic=" + topic, "pub-secret", "hello").statusCode());
      assertEquals("hello", consumer.messages(1, Duration.ofSeconds(20)).get(0).json().path("body").asText());
    }
  }

  @Test
  void pingAndTheConsoleFilesStayOpenAndIdentitySaysWhoIsThere() throws Exception {
    assertEquals(200, call("GET", "/ping", null).statusCode());
    assertEquals(200, call("GET", "/", null).statusCode());
    assertEquals(200, call("GET", "/console/console.js", null).statusCode());
    assertEquals(401, call("GET", "/identity", null).statusCode());
    JsonNode me = JSON.readTree(call("GET", "/identity", "chadmin-secret").body());
    assertTrue(me.path("auth_required").asBoolean());
    assertEquals("channel-admin", me.path("identity").asText());
    assertEquals("^auth-orders$", me.path("authorizations").path(0).path("topic").asText());
    assertEquals("^workers$", me.path("authorizations").path(0).path("channels").path(0).asText());
    assertEquals("admin", me.path("authorizations").path(0).path("permissions").path(0).asText());
    assertFalse(node.logTail().contains("no --auth-file"), "a node with identities does not warn that it is open");
  }

  @Test
  void theFileIsReadAgainWhenItChanges() throws Exception {
    assertEquals(401, call("GET", "/stats", "later-secret").statusCode());
    writeIdentities(",{\"identity\": \"later\", \"secret\": \"later-secret\","
        + " \"authorizations\": [{\"topic\": \".*\", \"permissions\": [\"stats\"]}]}");
    Await.until(Duration.ofSeconds(20), "the new identity is known", () -> call("GET", "/stats", "later-secret").statusCode() == 200);
    // A broken file is reported and the last good one stays in force.
    Files.writeString(authFile, "{ not json");
    // The file is looked at when an identity is asked for (at most once a second).
    Await.until(Duration.ofSeconds(20), "the broken file is reported",
        () -> call("GET", "/stats", "later-secret").statusCode() == 200 && node.logTail().contains("not reloaded"));
    assertEquals(200, call("GET", "/stats", "later-secret").statusCode());
    writeIdentities("");
    Await.until(Duration.ofSeconds(20), "the removed identity is refused", () -> call("GET", "/stats", "later-secret").statusCode() == 401);
  }

  static HttpResponse<String> call(String method, String path, String secret) throws Exception {
    return call(method, path, secret, "one\ntwo");
  }

  static HttpResponse<String> call(String method, String path, String secret, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(node.baseUrl() + path))
        .method(method, method.equals("GET") ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (secret != null) b.header("Authorization", "Bearer " + secret);
    return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static String code(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body()).path("message").asText();
  }
}
