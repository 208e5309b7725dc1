package herald.node;

import com.typesafe.config.Config;
import herald.http.Guard;
import herald.security.AuthFile;
import herald.security.AuthServer;
import herald.security.Authorizer;
import herald.security.ServerTls;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What stands between clients and the node (docs/security.md): who they are (--auth-file or
 * --auth-http-address), which web pages may drive the node (--allowed-origins), and TLS
 * (--https-address, --tls-*). Read and checked once at start; a bad setting stops the start.
 */
record ClientSecurity(Optional<Authorizer> authorizer, Set<String> allowedOrigins,
                      Optional<Settings.HostPort> https, Optional<ServerTls> tls, boolean tlsRequired) {

  static ClientSecurity from(Config root) {
    Config c = root.getConfig("herald");
    String file = c.getString("auth-file").trim();
    List<String> servers = list(c.getString("auth-http-address"));
    if (!file.isEmpty() && !servers.isEmpty()) {
      throw new IllegalArgumentException("--auth-file and --auth-http-address exclude each other: choose one source of identities");
    }
    Optional<Authorizer> authorizer = !file.isEmpty() ? Optional.of(AuthFile.load(Path.of(file)))
        : !servers.isEmpty() ? Optional.of(new AuthServer(servers))
        : Optional.empty();
    Set<String> origins = new LinkedHashSet<>();
    for (String o : list(c.getString("allowed-origins"))) {
      String normal = Guard.normalize(o);
      if (normal == null) throw new IllegalArgumentException("--allowed-origins: '" + o + "' is not an origin such as https://console.example.com");
      origins.add(normal);
    }
    String httpsAddress = c.getString("https-address").trim();
    String cert = c.getString("tls-cert").trim();
    String key = c.getString("tls-key").trim();
    Optional<Settings.HostPort> https = Optional.empty();
    Optional<ServerTls> tls = Optional.empty();
    if (!httpsAddress.isEmpty()) {
      if (cert.isEmpty() || key.isEmpty()) throw new IllegalArgumentException("--https-address needs --tls-cert and --tls-key");
      https = Optional.of(Settings.HostPort.parse(httpsAddress, "--https-address"));
      String rootCa = c.getString("tls-root-ca-file").trim();
      tls = Optional.of(ServerTls.load(Path.of(cert), Path.of(key), c.getString("tls-client-auth-policy"),
          rootCa.isEmpty() ? Optional.empty() : Optional.of(Path.of(rootCa))));
    } else if (!cert.isEmpty() || !key.isEmpty() || !c.getString("tls-client-auth-policy").isBlank()) {
      throw new IllegalArgumentException("--tls-cert, --tls-key and --tls-client-auth-policy need --https-address (the HTTPS listener)");
    }
    boolean tlsRequired = c.getBoolean("tls-required");
    if (tlsRequired && https.isEmpty()) throw new IllegalArgumentException("--tls-required needs --https-address");
    return new ClientSecurity(authorizer, Set.copyOf(origins), https, tls, tlsRequired);
  }

  Guard guard(boolean tls, int httpsPort) {
    return new Guard(authorizer, allowedOrigins, tls, tlsRequired, httpsPort);
  }

  /** The one start-up line an open node logs; empty when identities are configured. */
  Optional<String> openWarning(String listening) {
    if (authorizer.isPresent()) return Optional.empty();
    return Optional.of("no --auth-file or --auth-http-address: anyone who reaches " + listening
        + " may publish, subscribe, create, delete, empty and pause topics and channels, and read /stats and /metrics"
        + " (docs/security.md)");
  }

  private static List<String> list(String value) {
    List<String> out = new ArrayList<>();
    for (String s : value.split(",")) if (!s.isBlank()) out.add(s.trim());
    return out;
  }
}
