package herald.broker;

/** NSQ's error codes, as the broker replies them (StatusReply.error) and HTTP returns them. */
public final class Errors {
  public static final String TOPIC_NOT_FOUND = "TOPIC_NOT_FOUND";
  public static final String CHANNEL_NOT_FOUND = "CHANNEL_NOT_FOUND";
  /** A publish that reached its topic after its deadline: not written (its publisher had an error answer). */
  public static final String PUB_EXPIRED = "E_PUB_EXPIRED";
  /** The topic's journal could not be read to find where a channel starts (replay). */
  public static final String JOURNAL_READ_FAILED = "JOURNAL_READ_FAILED";

  private Errors() {}
}
