package herald.broker;

/**
 * Where a channel starts ({@code from=} on /channel/create and /sub) or is moved to
 * ({@code to=} on /channel/rewind): the earliest message the topic still has, its end, the first
 * message published at or after a time, or a message given by its id (its position).
 *
 * @param value unix ms for {@link Where#TIME}, the offset for {@link Where#POSITION}, else 0
 */
public record ReplayFrom(Where where, long value) implements CborSerializable {
  public enum Where { EARLIEST, LATEST, TIME, POSITION }

  public static final ReplayFrom EARLIEST = new ReplayFrom(Where.EARLIEST, 0);
  public static final ReplayFrom LATEST = new ReplayFrom(Where.LATEST, 0);

  /**
   * {@code earliest}, {@code latest}, a message id (16 hex digits, only where {@code positions}) or
   * a time in unix ms (decimal digits); null for anything else.
   */
  public static ReplayFrom parse(String text, boolean positions) {
    if (text.equals("earliest")) return EARLIEST;
    if (text.equals("latest")) return LATEST;
    if (positions && text.length() == 16) {
      long offset = MessageId.parse(text);
      return offset < 0 ? null : new ReplayFrom(Where.POSITION, offset);
    }
    if (text.isEmpty() || text.length() > 15 || !text.chars().allMatch(Character::isDigit)) return null;
    return new ReplayFrom(Where.TIME, Long.parseLong(text));
  }

  /** Whether the message at {@code offset}, published at {@code timestamp}, is where this starts (or after it). */
  boolean reached(long offset, long timestamp) {
    return switch (where) {
      case EARLIEST -> true;
      case LATEST -> false;
      case TIME -> timestamp >= value;
      case POSITION -> offset >= value;
    };
  }
}
