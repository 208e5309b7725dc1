package herald.cli;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Where {@code herald pub} and {@code herald bench} take each message's X-Herald-Msg-Id from
 * ({@code --msg-id-from}): {@code line}, the message's own bytes (the first 32 hex digits of their
 * SHA-256, so equal lines are one message within the dedup window), or {@code sequence}, its place
 * in the run (equal lines stay distinct messages). Either way a publish retried after an unknown
 * outcome carries the ids it had, and the node stores it once.
 */
enum MsgIds {
  line, sequence;

  private static final byte[] HEX = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  /** The id of a message from its bytes {@code bytes[at, at + length)}, as ASCII bytes (32 of them). */
  static byte[] ofBytes(byte[] bytes, int at, int length) {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
    sha.update(bytes, at, length);
    byte[] digest = sha.digest();
    byte[] id = new byte[32];
    for (int i = 0; i < 16; i++) {
      id[2 * i] = HEX[(digest[i] >> 4) & 0xF];
      id[2 * i + 1] = HEX[digest[i] & 0xF];
    }
    return id;
  }
}
