package herald.security;

/**
 * What a client shows at the door: its secret and how it came (nsqauthd's request parameters).
 * The common name is the subject CN of a verified client certificate, or "".
 */
public record Credentials(String secret, String remoteIp, boolean tls, String commonName) {
  @Override
  public String toString() {
    // A secret never reaches a log line.
    return "Credentials[remoteIp=" + remoteIp + ", tls=" + tls + ", commonName=" + commonName + "]";
  }
}
