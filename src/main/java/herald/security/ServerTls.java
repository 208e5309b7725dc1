package herald.security;

import org.apache.pekko.pki.pem.DERPrivateKeyLoader;
import org.apache.pekko.pki.pem.PEMDecoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The TLS side of a client listener, from PEM files as nsqd takes them (--tls-cert, --tls-key,
 * --tls-client-auth-policy, --tls-root-ca-file). Every new connection gets its engine from the
 * current files: a renewed certificate (a rewrite or a rename over the file) serves new
 * connections within a second, without a restart; open connections keep the one they began with.
 */
public final class ServerTls {
  private static final Logger log = LoggerFactory.getLogger(ServerTls.class);

  /** nsqd's policies: none, require (any certificate; nsqd's RequireAnyClientCert), require-verify. */
  public enum ClientAuth { NONE, REQUIRE, REQUIRE_VERIFY }

  private final Path cert;
  private final Path key;
  private final ClientAuth clientAuth;
  private final Optional<Path> rootCa;
  private volatile SSLContext context;
  private final FileWatch watch;

  private ServerTls(Path cert, Path key, ClientAuth clientAuth, Optional<Path> rootCa, FileWatch watch) {
    this.watch = watch;
    this.cert = cert;
    this.key = key;
    this.clientAuth = clientAuth;
    this.rootCa = rootCa;
  }

  /** Reads the files once; anything wrong stops the start with the reason. */
  public static ServerTls load(Path cert, Path key, String clientAuthPolicy, Optional<Path> rootCa) {
    ClientAuth policy = switch (clientAuthPolicy.trim().toLowerCase(Locale.ROOT)) {
      case "" -> ClientAuth.NONE;
      case "require" -> ClientAuth.REQUIRE;
      case "require-verify" -> ClientAuth.REQUIRE_VERIFY;
      default -> throw new IllegalArgumentException("--tls-client-auth-policy must be require or require-verify, got '" + clientAuthPolicy + "'");
    };
    if (rootCa.isPresent() && policy == ClientAuth.NONE) {
      throw new IllegalArgumentException("--tls-root-ca-file needs --tls-client-auth-policy require-verify");
    }
    try {
      ServerTls tls = new ServerTls(cert, key, policy, rootCa,
          new FileWatch(rootCa.isPresent() ? List.of(cert, key, rootCa.get()) : List.of(cert, key)));
      tls.context = tls.build();
      return tls;
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      throw new IllegalArgumentException("TLS files unusable (--tls-cert " + cert + ", --tls-key " + key
          + rootCa.map(r -> ", --tls-root-ca-file " + r).orElse("") + "): " + e.getMessage());
    }
  }

  /** A server engine for one new connection, from the files as they are now. */
  public SSLEngine engine() {
    reloadIfChanged();
    SSLEngine engine = context.createSSLEngine();
    engine.setUseClientMode(false);
    engine.setEnabledProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
    if (clientAuth != ClientAuth.NONE) engine.setNeedClientAuth(true);
    return engine;
  }

  private void reloadIfChanged() {
    watch.ifChanged(() -> {
      context = build();
      log.info("TLS certificate {} reloaded", cert);
    }, e -> log.error("TLS files {} / {} not reloaded, the previous certificate stays in use (a renewal that "
        + "replaces the certificate and the key one after the other is tried again at the second): {}", cert, key, e.getMessage()));
  }

  private SSLContext build() throws IOException, GeneralSecurityException {
    List<X509Certificate> chain = certificates(cert);
    if (chain.isEmpty()) throw new GeneralSecurityException("no certificate in " + cert);
    PrivateKey privateKey = privateKey(Files.readString(key));
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    store.setKeyEntry("herald", privateKey, new char[0], chain.toArray(new Certificate[0]));
    KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    keys.init(store, new char[0]);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(keys.getKeyManagers(), trustManagers(), null);
    return ctx;
  }

  /**
   * PKCS#1 RSA keys through pekko-pki; PKCS#8 ("BEGIN PRIVATE KEY", what openssl genpkey and
   * certbot write) of any algorithm the JDK knows, which pekko-pki reads only for RSA.
   */
  static PrivateKey privateKey(String pem) throws GeneralSecurityException {
    PEMDecoder.DERData der = PEMDecoder.decode(pem);
    if (!der.label().equals("PRIVATE KEY")) return DERPrivateKeyLoader.load(der);
    for (String algorithm : List.of("RSA", "EC", "Ed25519", "RSASSA-PSS")) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der.bytes()));
      } catch (InvalidKeySpecException e) {
        // not this algorithm
      }
    }
    throw new InvalidKeySpecException("a PKCS#8 private key of no algorithm the JDK reads (RSA, EC, Ed25519)");
  }

  private TrustManager[] trustManagers() throws IOException, GeneralSecurityException {
    return switch (clientAuth) {
      case NONE -> null;
      case REQUIRE -> new TrustManager[] {new AnyClientCertificate()};
      case REQUIRE_VERIFY -> {
        KeyStore cas = null;
        if (rootCa.isPresent()) {
          cas = KeyStore.getInstance("PKCS12");
          cas.load(null, null);
          int i = 0;
          for (X509Certificate ca : certificates(rootCa.get())) cas.setCertificateEntry("ca-" + i++, ca);
          if (i == 0) throw new GeneralSecurityException("no certificate in " + rootCa.get());
        }
        // Without --tls-root-ca-file, the JDK's own CAs (as nsqd uses the system's).
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(cas);
        yield tmf.getTrustManagers();
      }
    };
  }

  private static List<X509Certificate> certificates(Path pem) throws IOException, GeneralSecurityException {
    List<X509Certificate> out = new ArrayList<>();
    CertificateFactory factory = CertificateFactory.getInstance("X.509");
    for (Certificate c : factory.generateCertificates(new ByteArrayInputStream(Files.readAllBytes(pem)))) {
      out.add((X509Certificate) c);
    }
    return out;
  }

  /** The subject CN of the certificate a client showed in this session (nsqauthd's common_name), or "". */
  public static String commonName(SSLSession session) {
    if (session == null) return "";
    try {
      Certificate[] chain = session.getPeerCertificates();
      if (chain.length == 0 || !(chain[0] instanceof X509Certificate cert)) return "";
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) return rdn.getValue().toString();
      }
      return "";
    } catch (SSLPeerUnverifiedException | InvalidNameException e) {
      return "";
    }
  }

  /** "require": a client must show a certificate, any certificate (the auth server may judge its CN). */
  private static final class AnyClientCertificate implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {
      // accepted without verification, by the policy's definition
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
      throw new java.security.cert.CertificateException("a server-side trust manager");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
