package herald.broker;

import org.apache.pekko.util.ByteString;

/**
 * One message as the topic stores it. {@code deliverAt} is 0 for at once, otherwise the unix ms
 * time before which no channel delivers it (a deferred publish).
 */
public record Published(ByteString body, long timestamp, long deliverAt) {}
