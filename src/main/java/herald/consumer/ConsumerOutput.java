package herald.consumer;

import herald.broker.ConsumerProtocol;

import java.util.List;

/**
 * Where a consumer session's answers go: the WebSocket or the NSQ TCP connection it serves. Each
 * protocol writes them in its own frames; the session's logic is the same for all.
 */
public interface ConsumerOutput {
  /** The channel took the consumer on. */
  void subscribed(String topic, String channel);

  /** Messages now in flight for the consumer. */
  void deliver(List<ConsumerProtocol.Delivery> messages);

  /** One command failed (E_FIN_FAILED and friends); the connection stays. */
  void failed(String code, String message);

  /** The answer to CLS: no more messages will come. */
  void closeWait();

  /** The session answered everything before a {@link ConsumerSession.Barrier}. */
  default void answered() {}

  /** A fatal error: say it, then close the connection. */
  default void fatal(String code, String message) {
    failed(code, message);
    end();
  }

  /**
   * The channel was deleted (or its topic): the session ends. Said as the fatal E_CHANNEL_GONE
   * unless the protocol closes without a word.
   */
  default void channelGone(String reason) {
    fatal("E_CHANNEL_GONE", reason);
  }

  /** Close the connection without a word (the client is gone). */
  void end();
}
