package herald.security;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Identities from a JSON file (--auth-file), read again when it changes:
 * <pre>
 * {"identities": [
 *   {"identity": "orders-app", "secret_sha256": "5e88...",
 *    "authorizations": [{"topic": "^orders$", "channels": [".*"], "permissions": ["publish", "subscribe"]}]}]}
 * </pre>
 * A secret is given as its SHA-256 (hex, {@code secret_sha256}) or, for tests and trials, as
 * {@code secret}. A file that no longer parses is reported and the last good one stays in force.
 */
public final class AuthFile implements Authorizer {
  private static final Logger log = LoggerFactory.getLogger(AuthFile.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path path;
  private final FileWatch watch;
  private volatile Map<String, Identity> bySecretHash;

  private AuthFile(Path path, Map<String, Identity> bySecretHash, FileWatch watch) {
    this.path = path;
    this.bySecretHash = bySecretHash;
    this.watch = watch;
  }

  /** Reads the file; a missing or broken file fails the node's start with the reason. */
  public static AuthFile load(Path path) {
    try {
      FileWatch watch = new FileWatch(List.of(path));
      return new AuthFile(path, parse(Files.readString(path)), watch);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read --auth-file " + path + ": " + e.getMessage());
    }
  }

  @Override
  public CompletionStage<Optional<Identity>> identify(Credentials credentials) {
    reloadIfChanged();
    return CompletableFuture.completedFuture(Optional.ofNullable(bySecretHash.get(sha256(credentials.secret()))));
  }

  @Override
  public String describe() {
    return "auth file " + path.toAbsolutePath() + " (" + bySecretHash.size() + " identities)";
  }

  private void reloadIfChanged() {
    watch.ifChanged(() -> {
      bySecretHash = parse(Files.readString(path));
      log.info("auth file {} reloaded: {} identities", path, bySecretHash.size());
    }, e -> log.error("auth file {} not reloaded, the previous one stays in force: {}", path, e.getMessage()));
  }

  static Map<String, Identity> parse(String text) {
    JsonNode root;
    try {
      root = JSON.readTree(text);
    } catch (IOException e) {
      throw new IllegalArgumentException("not JSON: " + e.getMessage());
    }
    if (root == null || !root.path("identities").isArray()) throw new IllegalArgumentException("needs an \"identities\" array");
    Map<String, Identity> out = new HashMap<>();
    for (JsonNode i : root.path("identities")) {
      String name = i.path("identity").asText("");
      if (name.isEmpty()) throw new IllegalArgumentException("an identity has no \"identity\" name");
      String hash;
      if (i.hasNonNull("secret_sha256")) hash = i.get("secret_sha256").asText().toLowerCase(java.util.Locale.ROOT);
      else if (i.hasNonNull("secret") && !i.get("secret").asText().isEmpty()) hash = sha256(i.get("secret").asText());
      else throw new IllegalArgumentException("identity '" + name + "' has no \"secret\" or \"secret_sha256\"");
      try {
        Identity identity = new Identity(name, i.path("identity_url").asText(""), Grant.listFrom(i.path("authorizations")), Long.MAX_VALUE);
        if (out.putIfAbsent(hash, identity) != null) throw new IllegalArgumentException("two identities share one secret");
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("identity '" + name + "': " + e.getMessage());
      }
    }
    return Map.copyOf(out);
  }

  public static String sha256(String secret) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
