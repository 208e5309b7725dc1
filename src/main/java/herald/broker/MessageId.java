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
    for (int i = 0; i < 16; i++) {
      if (Character.digit(id.charAt(i), 16) < 0) return -1;
    }
    try {
      long offset = Long.parseUnsignedLong(id, 16);
      return offset < 0 ? -1 : offset;
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
