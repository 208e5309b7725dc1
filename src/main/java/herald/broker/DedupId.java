package herald.broker;

/**
 * A publisher's own id for a message (HTTP header {@code X-Herald-Msg-Id}): a topic stores a
 * message whose id it already stored within its dedup window only once, so a publisher that
 * retries an unknown outcome with the same id cannot store it twice.
 */
public final class DedupId {
  /** The HTTP header that carries it on /pub. */
  public static final String HEADER = "X-Herald-Msg-Id";

  /** The longest id a client may send. */
  public static final int MAX_LENGTH = 64;

  private DedupId() {}

  /** Null when {@code id} is a valid client id, else the error code to answer. */
  public static String problem(String id) {
    if (id.isEmpty()) return "INVALID_MSG_ID";
    if (id.length() > MAX_LENGTH) return "MSG_ID_TOO_LONG";
    for (int i = 0; i < id.length(); i++) if (!allowed(id.charAt(i))) return "INVALID_MSG_ID";
    return null;
  }

  /** The same for an id given as bytes {@code bytes[at, at + length)} (one char per byte). */
  public static String problem(byte[] bytes, int at, int length) {
    if (length == 0) return "INVALID_MSG_ID";
    if (length > MAX_LENGTH) return "MSG_ID_TOO_LONG";
    for (int i = at; i < at + length; i++) if (!allowed(bytes[i] & 0xff)) return "INVALID_MSG_ID";
    return null;
  }

  /** Visible ASCII: a header value loses surrounding spaces, so space is not taken either. */
  private static boolean allowed(int c) {
    return c >= 0x21 && c <= 0x7e;
  }

  /**
   * The id of a message that the node itself publishes on behalf of a message of another topic
   * (dead-lettering): the source topic, channel and offset name it. It holds spaces, which no
   * client id may, so it never meets a client's id; a second attempt after a crash is a duplicate.
   */
  public static String ofPosition(String topic, String channel, long offset) {
    return "pos " + topic + " " + channel + " " + offset;
  }
}
