package herald.broker;

import org.apache.pekko.util.ByteString;

import java.util.List;

/**
 * One message as the topic stores it. {@code deliverAt} is 0 for at once, otherwise the unix ms
 * time before which no channel delivers it (a deferred publish). {@code dedupId} is the publisher's
 * own id for it, or null: a topic stores a message whose id it already stored within its window
 * only once (see DedupId and StoredIds).
 */
public record Published(ByteString body, long timestamp, long deliverAt, String dedupId) {

  public Published(ByteString body, long timestamp, long deliverAt) {
    this(body, timestamp, deliverAt, null);
  }

  /** The bytes of {@code messages}' bodies: what a write's size limits and the disk check count. */
  static long bodyBytes(List<Published> messages) {
    long bytes = 0;
    for (Published m : messages) bytes += m.body().length();
    return bytes;
  }
}
