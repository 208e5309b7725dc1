package herald.cluster;

import com.typesafe.config.Config;
import org.apache.pekko.event.NoMarkerLogging$;
import org.apache.pekko.remote.artery.tcp.ConfigSSLEngineProvider;
import org.apache.pekko.remote.artery.tcp.SSLEngineProvider;
import org.apache.pekko.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Cluster traffic over TLS with mutual authentication (Pekko Artery's tls-tcp transport): a node
 * connects to another, and accepts a connection, only when the peer's certificate is signed by the
 * cluster's CA. From PEM files (Pekko's rotating-keys engine, which re-reads them every 5 minutes
 * and also wants a subject name common to all nodes) or from PKCS#12 stores (Pekko's config engine).
 */
public final class ClusterTls {
  private static final String ARTERY = "pekko.remote.artery.";
  private static final String PEM = ARTERY + "ssl.rotating-keys-engine";
  private static final String STORES = ARTERY + "ssl.config-ssl-engine";

  private ClusterTls() {}

  /**
   * The Pekko settings for the --cluster-tls-* flags, checked to be complete; empty (plain TCP)
   * when none is given. The store password comes from HERALD_CLUSTER_TLS_PASSWORD (cluster.conf).
   */
  public static Map<String, Object> settings(String cert, String key, String ca, String keystore, String truststore) {
    boolean pem = !cert.isBlank() || !key.isBlank() || !ca.isBlank();
    boolean stores = !keystore.isBlank() || !truststore.isBlank();
    Map<String, Object> s = new LinkedHashMap<>();
    if (!pem && !stores) return s;
    if (pem && stores) {
      throw new IllegalArgumentException("--cluster-tls-cert/-key/-ca and --cluster-tls-keystore/-truststore are two ways to give the same thing: use one");
    }
    s.put(ARTERY + "transport", "tls-tcp");
    if (pem) {
      s.put(ARTERY + "ssl.ssl-engine-provider", RotatingKeysSSLEngineProvider.class.getName());
      s.put(PEM + ".cert-file", readable("--cluster-tls-cert", cert));
      s.put(PEM + ".key-file", readable("--cluster-tls-key", key));
      s.put(PEM + ".ca-cert-file", readable("--cluster-tls-ca", ca));
    } else {
      s.put(ARTERY + "ssl.ssl-engine-provider", ConfigSSLEngineProvider.class.getName());
      s.put(STORES + ".key-store", readable("--cluster-tls-keystore", keystore));
      s.put(STORES + ".trust-store", readable("--cluster-tls-truststore", truststore));
      s.put(STORES + ".require-mutual-authentication", "on");
    }
    return s;
  }

  private static String readable(String flag, String file) {
    if (file.isBlank()) {
      throw new IllegalArgumentException(flag + " is missing: cluster TLS needs "
          + (flag.contains("store") ? "--cluster-tls-keystore and --cluster-tls-truststore" : "--cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca"));
    }
    Path path = Path.of(file);
    if (!Files.isReadable(path)) throw new IllegalArgumentException(flag + ": cannot read " + path.toAbsolutePath());
    return path.toAbsolutePath().toString();
  }

  /**
   * Builds both ends of a connection once with the node's own settings, so an unreadable key, a
   * wrong password or a certificate that does not parse fails the start rather than every later
   * connection (Pekko reads the files lazily). Throws with the reason; does nothing without TLS.
   */
  public static void check(Config config) {
    if (!enabled(config)) return;
    String provider = config.getString(ARTERY + "ssl.ssl-engine-provider");
    SSLEngineProvider engines = provider.equals(RotatingKeysSSLEngineProvider.class.getName())
        ? new RotatingKeysSSLEngineProvider(config.getConfig(PEM), NoMarkerLogging$.MODULE$)
        : new ConfigSSLEngineProvider(config.getConfig(STORES), NoMarkerLogging$.MODULE$);
    engines.createServerSSLEngine("127.0.0.1", 0);
    engines.createClientSSLEngine("127.0.0.1", 0);
  }

  public static boolean enabled(Config config) {
    return config.getString(ARTERY + "transport").equals("tls-tcp");
  }
}
