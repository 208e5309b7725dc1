package herald.e2e;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * A throwaway CA and the certificates it signs, made with the JDK's keytool as an operator could,
 * and written as the PEM files the node takes.
 */
final class TestCertificates {
  private static final String PASS = "changeit";
  final Path dir;
  final Path caPem;

  /** A certificate with its key: {@code chainPem} (certificate, then CA), {@code keyPem} (PKCS#8). */
  record Issued(Path chainPem, Path keyPem, PrivateKey key, Certificate[] chain) {}

  private TestCertificates(Path dir) throws Exception {
    this.dir = dir;
    keytool("-genkeypair", "-alias", "ca", "-dname", "CN=herald-test-ca", "-ext", "bc:c", "-keyalg", "RSA",
        "-keysize", "2048", "-validity", "2", "-keystore", store("ca"), "-storepass", PASS);
    this.caPem = dir.resolve("ca.pem");
    keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", store("ca"), "-storepass", PASS, "-file", caPem.toString());
  }

  static TestCertificates create() throws Exception {
    return new TestCertificates(Files.createTempDirectory("herald-certs-"));
  }

  /** A certificate for {@code cn} (also valid for 127.0.0.1 and localhost), signed by the CA or by itself. */
  Issued issue(String name, String cn, boolean signedByCa) throws Exception {
    keytool("-genkeypair", "-alias", name, "-dname", "CN=" + cn, "-keyalg", "RSA", "-keysize", "2048",
        "-validity", "2", "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-keystore", store(name), "-storepass", PASS);
    Path chain = dir.resolve(name + "-chain.pem");
    if (signedByCa) {
      Path csr = dir.resolve(name + ".csr");
      keytool("-certreq", "-alias", name, "-keystore", store(name), "-storepass", PASS, "-file", csr.toString());
      Path signed = dir.resolve(name + ".pem");
      keytool("-gencert", "-rfc", "-alias", "ca", "-keystore", store("ca"), "-storepass", PASS, "-validity", "2",
          "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-infile", csr.toString(), "-outfile", signed.toString());
      Files.writeString(chain, Files.readString(signed) + Files.readString(caPem));
    } else {
      keytool("-exportcert", "-rfc", "-alias", name, "-keystore", store(name), "-storepass", PASS, "-file", chain.toString());
    }
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (var in = Files.newInputStream(Path.of(store(name)))) {
      ks.load(in, PASS.toCharArray());
    }
    PrivateKey key = (PrivateKey) ks.getKey(name, PASS.toCharArray());
    Path keyPem = dir.resolve(name + "-key.pem");
    Files.writeString(keyPem, "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(key.getEncoded()) + "\n-----END PRIVATE KEY-----\n");
    List<Certificate> certs = new ArrayList<>(CertificateFactory.getInstance("X.509")
        .generateCertificates(new ByteArrayInputStream(Files.readAllBytes(chain))));
    return new Issued(chain, keyPem, key, certs.toArray(new Certificate[0]));
  }

  /** A client that trusts the CA and shows {@code clientCertificate} when asked (null: none). */
  SSLContext clientContext(Issued clientCertificate) throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", CertificateFactory.getInstance("X.509")
        .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(caPem))));
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    KeyManagerFactory kmf = null;
    if (clientCertificate != null) {
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      keys.setKeyEntry("client", clientCertificate.key(), new char[0], clientCertificate.chain());
      kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, new char[0]);
    }
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }

  private String store(String name) {
    return dir.resolve(name + ".p12").toString();
  }

  private void keytool(String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) throw new IllegalStateException("keytool " + String.join(" ", args) + " failed: " + out);
  }
}
