package herald.broker;

import org.apache.pekko.util.ByteString;

import java.util.List;

/** What a channel says to a consumer session. The session's own messages share this type. */
public interface ConsumerProtocol extends CborSerializable {

  /** {@code msgId}: the publisher's X-Herald-Msg-Id, or the origin of a dead letter (see DedupId); null when none. */
  record Delivery(long offset, long timestamp, int attempts, ByteString body, String msgId) {
    public Delivery(long offset, long timestamp, int attempts, ByteString body) {
      this(offset, timestamp, attempts, body, null);
    }
  }

  /** Messages now in flight for this consumer, in the order they were taken from the channel. */
  record Deliver(List<Delivery> messages) implements ConsumerProtocol {}

  /** The consumer is registered; {@code channel} is the channel actor to talk to directly. */
  record Subscribed(org.apache.pekko.actor.typed.ActorRef<Channel.Command> channel) implements ConsumerProtocol {}

  /** A non-fatal error for one command (E_FIN_FAILED and friends). */
  record Failed(String code, String message) implements ConsumerProtocol {}

  /** The channel is gone; the session must close. */
  record Close(String reason) implements ConsumerProtocol {}
}
