package herald.broker;

/**
 * What a consumer told about itself, for /stats as nsqd shows its clients: the host name and user
 * agent it sent, the protocol ("V2" for NSQ's TCP protocol, "ws" for the WebSocket one) and the
 * features negotiated on its connection (TLS: the JDK's cipher suite name and Go's version name,
 * "TLS1.3", as nsqd shows them).
 */
public record ClientInfo(
    String hostname, String userAgent, String version, boolean tls, boolean deflate, boolean snappy, int sampleRate,
    String tlsVersion, String tlsCipherSuite)
    implements CborSerializable {

  /** A WebSocket consumer: it sends no IDENTIFY; its host name is its address's host, as nsqd's default. */
  public static ClientInfo webSocket(String remoteAddress) {
    int colon = remoteAddress.lastIndexOf(':');
    return new ClientInfo(colon > 0 ? remoteAddress.substring(0, colon) : remoteAddress, "", "ws", false, false, false, 0, "", "");
  }
}
