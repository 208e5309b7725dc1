package herald.broker;

import herald.settings.Settings;

/**
 * A topic's own settings ({@code POST /topic/config}), persisted by the topic. A null field means
 * the node's default. In a change, a null field means "leave as is" and {@link #NODE_DEFAULT}
 * means "back to the node's default". New settings are new fields here.
 *
 * @param dedupWindowMs how long a stored dedup id keeps a publish with the same id from being
 *     stored again; 0 turns dedup off for the topic
 * @param retentionTimeMs how long the topic keeps a message every channel is done with, for replay;
 *     0 keeps none (deleted once every channel is past it)
 * @param retentionBytes how many bytes of the latest messages the topic keeps, for replay, whether
 *     channels are done with them or not; 0 keeps none. With both limits, a message stays while it
 *     is within both.
 */
public record TopicConfig(Long dedupWindowMs, Long retentionTimeMs, Long retentionBytes) implements CborSerializable {
  public static final TopicConfig DEFAULT = new TopicConfig(null, null, null);

  /** In a change: back to the node's default. */
  public static final long NODE_DEFAULT = -1;

  public TopicConfig(Long dedupWindowMs) {
    this(dedupWindowMs, null, null);
  }

  /** These settings with {@code changes} applied. */
  public TopicConfig with(TopicConfig changes) {
    return new TopicConfig(changed(dedupWindowMs, changes.dedupWindowMs()),
        changed(retentionTimeMs, changes.retentionTimeMs()), changed(retentionBytes, changes.retentionBytes()));
  }

  /** The dedup window in force (ms): this topic's own, or the node's. */
  long dedupWindowMs(Settings node) {
    return dedupWindowMs != null ? dedupWindowMs : node.dedupWindow().toMillis();
  }

  /** The retention in force: this topic's own, or the node's (each limit on its own). */
  Topic.RetentionStats retention(Settings node) {
    return new Topic.RetentionStats(retentionTimeMs != null ? retentionTimeMs : node.retentionTime().toMillis(),
        retentionBytes != null ? retentionBytes : node.retentionBytes());
  }

  private static Long changed(Long current, Long change) {
    if (change == null) return current;
    return change == NODE_DEFAULT ? null : change;
  }
}
