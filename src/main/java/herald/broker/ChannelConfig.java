package herald.broker;

/**
 * A channel's dead-letter settings ({@code POST /channel/config}), persisted by the channel. A
 * message whose delivery fails for the {@code maxAttempts}-th time (timeout, REQ or its consumer
 * gone) goes to {@code deadLetterTopic} instead of back to the channel. {@code maxAttempts} 0: no
 * limit, as in NSQ. {@code deadLetterTopic} null: {@code <topic>.<channel>.dead}.
 */
public record ChannelConfig(int maxAttempts, String deadLetterTopic) implements CborSerializable {
  public static final ChannelConfig NONE = new ChannelConfig(0, null);

  /** NSQ's attempts field is 16 bits. */
  public static final int MAX_ATTEMPTS_LIMIT = 65_535;

  public static String defaultDeadLetterTopic(String topic, String channel) {
    return topic + "." + channel + ".dead";
  }

  /** The topic dead letters of this channel go to. */
  public String deadLetterTopicOf(String topic, String channel) {
    return deadLetterTopic != null ? deadLetterTopic : defaultDeadLetterTopic(topic, channel);
  }

  /** True when a message that failed its {@code attempts}-th delivery is dead-lettered. */
  public boolean exhausted(int attempts) {
    return maxAttempts > 0 && attempts >= maxAttempts;
  }

  /**
   * Null when these settings can be used for {@code topic}/{@code channel}, else why not: the
   * dead-letter topic must be a valid, durable topic name other than the channel's own topic.
   */
  public String problem(String topic, String channel) {
    if (maxAttempts < 0 || maxAttempts > MAX_ATTEMPTS_LIMIT) return "max_attempts must be 0 to " + MAX_ATTEMPTS_LIMIT;
    String target = deadLetterTopicOf(topic, channel);
    if (!Names.isValid(target) || Names.isEphemeral(target)) {
      return "dead_letter_topic " + target + " is not a valid durable topic name"
          + (deadLetterTopic == null ? " (name one)" : "");
    }
    if (target.equals(topic)) return "dead_letter_topic must not be the channel's own topic";
    return null;
  }
}
