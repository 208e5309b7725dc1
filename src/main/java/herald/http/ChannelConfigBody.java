package herald.http;

import com.fasterxml.jackson.databind.JsonNode;
import herald.broker.ChannelConfig;
import org.apache.pekko.util.ByteString;

import java.util.Iterator;

/**
 * The body of {@code POST /channel/config}: a JSON object with the channel's dead-letter settings,
 * for example {@code {"max_attempts": 5, "dead_letter_topic": "orders.failed"}}. It replaces them
 * all: a key left out (or null) is its default (max_attempts 0, no limit; dead_letter_topic
 * {@code <topic>.<channel>.dead}).
 */
final class ChannelConfigBody {
  private ChannelConfigBody() {}

  static ChannelConfig parse(ByteString body, String topic, String channel) {
    JsonNode root = TopicConfigBody.object(body);
    int maxAttempts = 0;
    String deadLetterTopic = null;
    for (Iterator<String> keys = root.fieldNames(); keys.hasNext(); ) {
      String key = keys.next();
      JsonNode value = root.get(key);
      switch (key) {
        case "max_attempts" -> {
          if (!value.isNull() && !(value.isIntegralNumber() && value.canConvertToInt())) throw ApiError.badRequest("INVALID_CONFIG");
          maxAttempts = value.isNull() ? 0 : value.intValue();
        }
        case "dead_letter_topic" -> {
          if (!value.isNull() && !value.isTextual()) throw ApiError.badRequest("INVALID_CONFIG");
          deadLetterTopic = value.isNull() ? null : value.asText();
        }
        default -> throw ApiError.badRequest("INVALID_CONFIG");
      }
    }
    ChannelConfig config = new ChannelConfig(maxAttempts, deadLetterTopic);
    if (config.problem(topic, channel) != null) throw ApiError.badRequest("INVALID_CONFIG");
    return config;
  }
}
