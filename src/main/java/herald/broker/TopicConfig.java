package herald.broker;

/**
 * A topic's own settings ({@code POST /topic/config}), persisted by the topic. A null field means
 * the node's default. In a change, a null field means "leave as is" and {@link #NODE_DEFAULT}
 * means "back to the node's default". New settings are new fields here.
 *
 * @param dedupWindowMs how long a stored dedup id keeps a publish with the same id from being
 *     stored again; 0 turns dedup off for the topic
 */
public record TopicConfig(Long dedupWindowMs) implements CborSerializable {
  public static final TopicConfig DEFAULT = new TopicConfig(null);

  /** In a change: back to the node's default. */
  public static final long NODE_DEFAULT = -1;

  /** These settings with {@code changes} applied. */
  public TopicConfig with(TopicConfig changes) {
    return new TopicConfig(changed(dedupWindowMs, changes.dedupWindowMs()));
  }

  private static Long changed(Long current, Long change) {
    if (change == null) return current;
    return change == NODE_DEFAULT ? null : change;
  }
}
