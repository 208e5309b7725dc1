package herald.broker;

/**
 * A message id is its topic offset as 16 lower-case hex digits: NSQ's 16-character id, and no
 * lookup table is needed to go from an id back to the message.
 */
public final class MessageId {
  private MessageId() {}

  public static String of(long offset) {
    String hex = Long.toHexString(offset);
    return "0".repeat(16 - hex.length()) + hex;
  }

  /** The offset, or -1 when the text is not a well-formed id. */
  public static long parse(String id) {
    if (id.length() != 16) return -1;
    long offset = 0;
    for (int i = 0; i < 16; i++) {
      char c = id.charAt(i);
      int digit;
      if (c >= '0' && c <= '9') digit = c - '0';
      else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
      else return -1;
      offset = (offset << 4) | digit;
    }
    return offset < 0 ? -1 : offset;
  }
}
