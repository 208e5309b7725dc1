package herald.broker;

/** NSQ's error codes, as the broker replies them (StatusReply.error) and HTTP returns them. */
public final class Errors {
  public static final String TOPIC_NOT_FOUND = "TOPIC_NOT_FOUND";
  public static final String CHANNEL_NOT_FOUND = "CHANNEL_NOT_FOUND";

  private Errors() {}
}
