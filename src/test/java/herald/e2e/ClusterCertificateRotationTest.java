package herald.e2e;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import herald.cluster.ClusterTls;
import org.apache.pekko.event.NoMarkerLogging$;
import org.apache.pekko.remote.artery.tcp.ssl.RotatingKeysSSLEngineProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Cluster certificates given as PEM files are replaced on disk and taken up without a restart:
 * the engines Herald configures for Artery (ClusterTls, Pekko's rotating-keys engine) read the files
 * again once their cache time is over (5 minutes on a node; 1 s here). Checked with real TLS
 * handshakes between the engines a node would use for its cluster connections.
 */
class ClusterCertificateRotationTest {
  private static final String PEM = "pekko.remote.artery.ssl.rotating-keys-engine";

  @TempDir
  Path dir;

  @Test
  void aReplacedCertificateIsServedWithoutARestart() throws Exception {
    Certificates.Authority ca = Certificates.authority(dir, "cluster");
    Certificates.Issued first = Certificates.issue(ca, dir, "first", "herald-cluster", false);
    Certificates.Issued second = Certificates.issue(ca, dir, "second", "herald-cluster", false);
    Path cert = dir.resolve("node.crt");
    Path key = dir.resolve("node.key");
    install(first, cert, key);

    Config config = ConfigFactory.parseMap(ClusterTls.settings(cert.toString(), key.toString(), ca.cert().toString(), "", ""))
        .withFallback(ConfigFactory.parseString(PEM + ".ssl-context-cache-ttl = 1s"))
        .withFallback(ConfigFactory.load());
    var engines = new RotatingKeysSSLEngineProvider(config.getConfig(PEM), NoMarkerLogging$.MODULE$);

    assertEquals(serial(first.cert()), servedSerial(engines), "the first certificate is served");
    install(second, cert, key);
    Await.until(Duration.ofSeconds(30), "the replaced certificate served", () -> servedSerial(engines).equals(serial(second.cert())));
  }

  private static void install(Certificates.Issued issued, Path cert, Path key) throws Exception {
    Files.copy(issued.cert(), cert, StandardCopyOption.REPLACE_EXISTING);
    Files.copy(issued.key(), key, StandardCopyOption.REPLACE_EXISTING);
  }

  private static BigInteger serial(Path pem) throws Exception {
    try (InputStream in = Files.newInputStream(pem)) {
      return ((X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in)).getSerialNumber();
    }
  }

  /** Runs a handshake between a new client and a new server engine; the serial the client was shown. */
  private static BigInteger servedSerial(RotatingKeysSSLEngineProvider engines) throws Exception {
    SSLEngine client = engines.createClientSSLEngine("127.0.0.1", 0);
    SSLEngine server = engines.createServerSSLEngine("127.0.0.1", 0);
    client.beginHandshake();
    server.beginHandshake();
    int size = 64 * 1024;
    ByteBuffer clientOut = ByteBuffer.allocate(size);
    ByteBuffer serverOut = ByteBuffer.allocate(size);
    ByteBuffer empty = ByteBuffer.allocate(0);
    ByteBuffer sink = ByteBuffer.allocate(size);
    for (int round = 0; round < 1000 && !(done(client) && done(server)); round++) {
      step(client, empty, clientOut, serverOut, sink);
      step(server, empty, serverOut, clientOut, sink);
    }
    if (!done(client) || !done(server)) throw new IllegalStateException("the handshake did not finish");
    return ((X509Certificate) client.getSession().getPeerCertificates()[0]).getSerialNumber();
  }

  private static boolean done(SSLEngine engine) {
    HandshakeStatus s = engine.getHandshakeStatus();
    return s == HandshakeStatus.FINISHED || s == HandshakeStatus.NOT_HANDSHAKING;
  }

  /** One turn of an engine: wrap what it wants to send into {@code out}, unwrap what the peer sent it. */
  private static void step(SSLEngine engine, ByteBuffer empty, ByteBuffer out, ByteBuffer in, ByteBuffer sink) throws Exception {
    if (engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP) engine.wrap(empty, out);
    Runnable task;
    while ((task = engine.getDelegatedTask()) != null) task.run();
    in.flip();
    while (in.hasRemaining() && engine.getHandshakeStatus() == HandshakeStatus.NEED_UNWRAP) {
      SSLEngineResult r = engine.unwrap(in, sink);
      while ((task = engine.getDelegatedTask()) != null) task.run();
      if (r.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW) break;
    }
    in.compact();
    sink.clear();
  }
}
