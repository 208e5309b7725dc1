package herald.protocols.nsq;

import org.apache.pekko.util.ByteString;

import java.util.List;

/**
 * One command read from an NSQ TCP connection. Commands without a body keep their raw parameters
 * (the connection checks them, as nsqd's handlers do); commands with a body are checked as far as
 * nsqd checks them before it reads the body, so they arrive whole or as an {@link Invalid}.
 */
sealed interface NsqCommand {

  /** A command line without a body: its words, split on single spaces as nsqd does. */
  record Line(List<String> params) implements NsqCommand {
    String verb() {
      return params.get(0);
    }
  }

  /**
   * Consecutive "FIN <id>" lines with well-formed ids, decoded without the general path: a consumer
   * sends one per message, and a read holds hundreds of them in a row.
   */
  record Fins(long[] offsets) implements NsqCommand {
    @Override
    public String toString() {
      return "Fins" + java.util.Arrays.toString(offsets);
    }
  }

  record Identify(ByteString body) implements NsqCommand {}

  record Auth(ByteString secret) implements NsqCommand {}

  record Pub(String topic, ByteString body) implements NsqCommand {}

  record Dpub(String topic, long deferMs, ByteString body) implements NsqCommand {}

  record Mpub(String topic, List<ByteString> bodies) implements NsqCommand {}

  /** A broken frame: nsqd's fatal error; nothing after it is read. */
  record Invalid(String code, String description) implements NsqCommand {}
}
