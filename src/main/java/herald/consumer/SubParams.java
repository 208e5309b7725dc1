package herald.consumer;

import herald.broker.ClientInfo;
import herald.broker.Names;
import herald.broker.ReplayFrom;

import java.util.Optional;
import java.util.function.Function;

/**
 * The parameters of {@code GET /sub} (a WebSocket consumer), checked in the documented order:
 * topic, channel, msg_timeout, client_id, format, from. A missing or bad one is {@link Refused}
 * with its code, which the HTTP side answers as a plain 400.
 */
public final class SubParams {
  private SubParams() {}

  /** A parameter that is missing or bad; {@link #code()} names which and how. */
  public static final class Refused extends RuntimeException {
    public Refused(String code) {
      super(code, null, false, false);
    }

    public String code() {
      return getMessage();
    }
  }

  /** The node's limits that bound the parameters. */
  public record Limits(long msgTimeoutMs, long maxMsgTimeoutMs, long maxRdyCount) {}

  /** {@code query}: a parameter's value by name; {@code remote}: the client's ip:port. */
  public static ConsumerSession.Params parse(Function<String, Optional<String>> query, String remote, Limits limits) {
    String topic = name(query, "topic", "MISSING_ARG_TOPIC", "INVALID_TOPIC");
    String channel = name(query, "channel", "MISSING_ARG_CHANNEL", "INVALID_CHANNEL");
    long msgTimeout = limits.msgTimeoutMs();
    Optional<String> timeout = query.apply("msg_timeout");
    if (timeout.isPresent()) {
      try {
        msgTimeout = Long.parseLong(timeout.get());
      } catch (NumberFormatException e) {
        throw new Refused("INVALID_MSG_TIMEOUT");
      }
      if (msgTimeout < 1000 || msgTimeout > limits.maxMsgTimeoutMs()) throw new Refused("INVALID_MSG_TIMEOUT");
    }
    String clientId = query.apply("client_id").orElse(remote);
    if (clientId.isEmpty() || clientId.length() > 255) throw new Refused("INVALID_CLIENT_ID");
    boolean binary = switch (query.apply("format").orElse("json")) {
      case "json" -> false;
      case "binary" -> true;
      default -> throw new Refused("INVALID_FORMAT");
    };
    ReplayFrom from = query.apply("from").map(f -> {
      ReplayFrom parsed = ReplayFrom.parse(f, false);
      if (parsed == null) throw new Refused("INVALID_FROM");
      return parsed;
    }).orElse(null);
    return new ConsumerSession.Params(topic, channel, clientId, remote, msgTimeout, binary, limits.maxRdyCount(),
        ClientInfo.webSocket(remote), from);
  }

  private static String name(Function<String, Optional<String>> query, String param, String missing, String invalid) {
    String value = query.apply(param).orElseThrow(() -> new Refused(missing));
    if (!Names.isValid(value)) throw new Refused(invalid);
    return value;
  }
}
