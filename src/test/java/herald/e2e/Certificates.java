package herald.e2e;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A test CA and certificates signed by it, made with the JDK's keytool (as docs/security.md tells
 * an operator to): each as PEM files and as PKCS#12 stores, all with {@link #PASSWORD}.
 */
public final class Certificates {
  public static final String PASSWORD = "test-password";

  /** A CA: its own store (with its key) and its certificate as PEM. */
  public record Authority(Path store, Path cert) {}

  /** A certificate signed by a CA, its key and the CA's certificate as PEM, and the node's store. */
  public record Issued(Path cert, Path key, Path ca, Path keystore) {}

  private Certificates() {}

  public static Authority authority(Path dir, String name) throws Exception {
    Files.createDirectories(dir);
    Path store = dir.resolve(name + "-ca.p12");
    Path cert = dir.resolve(name + "-ca.crt");
    keytool("-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
        "-dname", "CN=" + name + " CA", "-ext", "bc:c", "-keystore", store.toString());
    keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", store.toString(), "-file", cert.toString());
    return new Authority(store, cert);
  }

  /** The store with the CA's certificate that --cluster-tls-truststore wants. */
  public static Path truststore(Authority ca) throws Exception {
    Path truststore = ca.store().resolveSibling(ca.store().getFileName().toString().replace("-ca.p12", "-truststore.p12"));
    keytool("-importcert", "-noprompt", "-alias", "ca", "-file", ca.cert().toString(), "-keystore", truststore.toString());
    return truststore;
  }

  /**
   * A node certificate with this common name, signed by the CA, good for TLS client and server.
   * Its PEM files are ready at once; the stores (three more keytool runs) only with {@code stores}.
   */
  public static Issued issue(Authority ca, Path dir, String name, String commonName, boolean stores) throws Exception {
    Path keystore = dir.resolve(name + ".p12");
    Path request = dir.resolve(name + ".csr");
    Path cert = dir.resolve(name + ".crt");
    Path key = dir.resolve(name + ".key");
    keytool("-genkeypair", "-alias", "node", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
        "-dname", "CN=" + commonName, "-keystore", keystore.toString());
    keytool("-certreq", "-alias", "node", "-keystore", keystore.toString(), "-file", request.toString());
    keytool("-gencert", "-rfc", "-alias", "ca", "-keystore", ca.store().toString(), "-validity", "2",
        "-ext", "ku:c=digitalSignature,keyEncipherment", "-ext", "eku=serverAuth,clientAuth",
        "-ext", "san=dns:localhost,ip:127.0.0.1", "-infile", request.toString(), "-outfile", cert.toString());
    writeKey(keystore, key);
    if (stores) {
      // The signed certificate replaces the self-signed one; keytool wants the CA in the store first.
      keytool("-importcert", "-noprompt", "-alias", "ca", "-file", ca.cert().toString(), "-keystore", keystore.toString());
      keytool("-importcert", "-alias", "node", "-file", cert.toString(), "-keystore", keystore.toString());
    }
    return new Issued(cert, key, ca.cert(), keystore);
  }

  /** A certificate signed by its own key, which no CA vouches for: a stranger's. Its "ca" is itself. */
  public static Issued selfSigned(Path dir, String name, String commonName) throws Exception {
    Files.createDirectories(dir);
    Path keystore = dir.resolve(name + ".p12");
    Path cert = dir.resolve(name + ".crt");
    Path key = dir.resolve(name + ".key");
    keytool("-genkeypair", "-alias", "node", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
        "-dname", "CN=" + commonName, "-ext", "san=dns:localhost,ip:127.0.0.1", "-keystore", keystore.toString());
    keytool("-exportcert", "-rfc", "-alias", "node", "-keystore", keystore.toString(), "-file", cert.toString());
    writeKey(keystore, key);
    return new Issued(cert, key, cert, keystore);
  }

  /** A TLS client that trusts {@code ca} and shows {@code own} when the server asks (null: nothing to show). */
  public static SSLContext clientContext(Path ca, Issued own) throws Exception {
    CertificateFactory x509 = CertificateFactory.getInstance("X.509");
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    try (var in = Files.newInputStream(ca)) {
      trust.setCertificateEntry("ca", x509.generateCertificate(in));
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    KeyManager[] keys = null;
    if (own != null) {
      KeyStore store = KeyStore.getInstance("PKCS12");
      try (var in = Files.newInputStream(own.keystore())) {
        store.load(in, PASSWORD.toCharArray());
      }
      Certificate[] chain;
      try (var in = Files.newInputStream(own.cert())) {
        chain = new Certificate[] {x509.generateCertificate(in)};
      }
      KeyStore client = KeyStore.getInstance("PKCS12");
      client.load(null, null);
      client.setKeyEntry("client", store.getKey("node", PASSWORD.toCharArray()), new char[0], chain);
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(client, new char[0]);
      keys = kmf.getKeyManagers();
    }
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(keys, tmf.getTrustManagers(), null);
    return ctx;
  }

  /** keytool cannot write a private key out: read it from the store, write it as PKCS#8 PEM. */
  private static void writeKey(Path keystore, Path key) throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (var in = Files.newInputStream(keystore)) {
      store.load(in, PASSWORD.toCharArray());
    }
    byte[] der = store.getKey("node", PASSWORD.toCharArray()).getEncoded();
    String pem = "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
        + "\n-----END PRIVATE KEY-----\n";
    Files.writeString(key, pem);
  }

  private static void keytool(String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    cmd.addAll(List.of(args));
    cmd.addAll(List.of("-storetype", "PKCS12", "-storepass", PASSWORD));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("keytool " + String.join(" ", args) + " failed: " + output);
    }
  }
}
