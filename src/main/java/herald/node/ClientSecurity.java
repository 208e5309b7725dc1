package herald.node;

import com.typesafe.config.Config;
import herald.http.Guard;
import herald.security.AuthFile;
import herald.security.AuthServer;
import herald.security.Authorizer;
import herald.security.ServerTls;

import herald.settings.Settings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What stands between clients and the node (docs/security.md): who they are (--auth-file or
 * --auth-http-address), which web pages may drive the node (--allowed-origins), and TLS
 * (--https-address, --tls-*: one certificate for HTTPS and for the NSQ TCP listener's tls_v1).
 * Read and checked once at start; a bad setting stops the start. {@code tlsRequired}: plain HTTP
 * answers only /ping; {@code tcpTlsRequired}: a TCP client must upgrade to TLS before any command
 * but IDENTIFY (nsqd's --tls-required true or tcp-https, or any --tls-client-auth-policy).
 */
record ClientSecurity(Optional<Authorizer> authorizer, Set<String> allowedOrigins,
                      Optional<Settings.HostPort> https, Optional<ServerTls> tls, boolean tlsRequired, boolean tcpTlsRequired) {

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
    String policy = c.getString("tls-client-auth-policy");
    if (!cert.isEmpty() && !key.isEmpty()) {
      String rootCa = c.getString("tls-root-ca-file").trim();
      tls = Optional.of(ServerTls.load(Path.of(cert), Path.of(key), policy,
          rootCa.isEmpty() ? Optional.empty() : Optional.of(Path.of(rootCa))));
    } else if (!cert.isEmpty() || !key.isEmpty() || !policy.isBlank()) {
      throw new IllegalArgumentException("--tls-cert and --tls-key go together (--tls-client-auth-policy needs both)");
    }
    if (!httpsAddress.isEmpty()) {
      if (tls.isEmpty()) throw new IllegalArgumentException("--https-address needs --tls-cert and --tls-key");
      https = Optional.of(Settings.HostPort.parse(httpsAddress, "--https-address"));
    }
    String required = c.getString("tls-required").trim().toLowerCase(java.util.Locale.ROOT);
    if (!required.matches("true|false|tcp-https")) {
      throw new IllegalArgumentException("--tls-required must be true, false or tcp-https, got '" + required + "'");
    }
    boolean tlsRequired = required.equals("true");
    if (tlsRequired && https.isEmpty()) throw new IllegalArgumentException("--tls-required needs --https-address");
    if (required.equals("tcp-https") && tls.isEmpty()) throw new IllegalArgumentException("--tls-required tcp-https needs --tls-cert and --tls-key");
    // As nsqd: a client certificate policy makes TLS required on TCP (it cannot be asked for in clear).
    boolean tcpTlsRequired = !required.equals("false") || !policy.isBlank();
    return new ClientSecurity(authorizer, Set.copyOf(origins), https, tls, tlsRequired, tcpTlsRequired);
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
