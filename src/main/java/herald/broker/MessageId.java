package herald.broker;

import java.util.function.IntUnaryOperator;

/**
 * A message id is its topic offset as 16 lower-case hex digits: NSQ's 16-character id, and no
 * lookup table is needed to go from an id back to the message.
 */
public final class MessageId {
  private MessageId() {}

  private static final byte[] HEX = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};

  public static String of(long offset) {
    String hex = Long.toHexString(offset);
    return "0".repeat(16 - hex.length()) + hex;
  }

  /** Puts the id's 16 ASCII bytes, as {@link #of} spells it, at the buffer's position: a message frame takes them without a String. */
  public static void putAscii(java.nio.ByteBuffer b, long offset) {
    int at = b.position();
    for (int i = 15; i >= 0; i--) {
      b.put(at + i, HEX[(int) (offset & 0xF)]);
      offset >>>= 4;
    }
    b.position(at + 16);
  }

  /** The offset of the 16 ASCII hex digits at {@code at}, or -1 when they are not a well-formed id. */
  public static long parse(byte[] bytes, int at) {
    return parse(i -> bytes[i], at);
  }

  /** The offset, or -1 when the text is not a well-formed id. */
  public static long parse(String id) {
    return id.length() != 16 ? -1 : parse(id, 0);
  }

  /** The offset of the 16 hex digits at {@code at} (which must be there), or -1 when they are not a well-formed id. */
  public static long parse(String text, int at) {
    return parse(text::charAt, at);
  }

  /** One loop for every form an id arrives in; {@code charAt} reads the character at an index. */
  private static long parse(IntUnaryOperator charAt, int at) {
    long offset = 0;
    for (int i = at; i < at + 16; i++) {
      int digit = digit(charAt.applyAsInt(i));
      if (digit < 0) return -1;
      offset = (offset << 4) | digit;
    }
    return offset < 0 ? -1 : offset;
  }

  private static int digit(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
}
