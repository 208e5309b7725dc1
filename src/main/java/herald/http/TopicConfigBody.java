package herald.http;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import herald.broker.TopicConfig;
import org.apache.pekko.util.ByteString;

import java.io.IOException;
import java.util.Iterator;

/**
 * The body of {@code POST /topic/config}: a JSON object with the settings to change, for example
 * {@code {"dedup_window": "30s", "retention_time": "24h", "retention_bytes": "10GB"}}. A key set to
 * null goes back to the node's default; a key left out stays as it is. Durations and sizes are
 * written as in the config ("500ms", "30s", "2m"; "500MB" or a number of bytes).
 */
final class TopicConfigBody {
  /**
   * One JSON object and nothing else: text after it, or a key given twice, is refused rather than
   * half-read (Jackson's defaults take the first value and drop the rest, or keep the last twice).
   */
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  private TopicConfigBody() {}

  /** The body as a JSON object, or 400 INVALID_CONFIG (also for /channel/config). */
  static JsonNode object(ByteString body) {
    JsonNode root;
    try {
      root = JSON.readTree(body.toArray());
    } catch (IOException e) {
      throw ApiError.badRequest("INVALID_CONFIG");
    }
    if (root == null || !root.isObject()) throw ApiError.badRequest("INVALID_CONFIG");
    return root;
  }

  static TopicConfig parse(ByteString body) {
    JsonNode root = object(body);
    Long dedupWindow = null;
    Long retentionTime = null;
    Long retentionBytes = null;
    for (Iterator<String> keys = root.fieldNames(); keys.hasNext(); ) {
      String key = keys.next();
      JsonNode value = root.get(key);
      switch (key) {
        case "dedup_window" -> dedupWindow = value.isNull() ? TopicConfig.NODE_DEFAULT : millis(value);
        case "retention_time" -> retentionTime = value.isNull() ? TopicConfig.NODE_DEFAULT : millis(value);
        case "retention_bytes" -> retentionBytes = value.isNull() ? TopicConfig.NODE_DEFAULT : bytes(value);
        default -> throw ApiError.badRequest("INVALID_CONFIG");
      }
    }
    return new TopicConfig(dedupWindow, retentionTime, retentionBytes);
  }

  private static long bytes(JsonNode value) {
    if (!value.isTextual() && !value.canConvertToLong()) throw ApiError.badRequest("INVALID_CONFIG");
    try {
      Object raw = value.isTextual() ? value.asText() : value.asLong();
      long n = ConfigFactory.empty().withValue("b", ConfigValueFactory.fromAnyRef(raw)).getBytes("b");
      if (n < 0) throw ApiError.badRequest("INVALID_CONFIG");
      return n;
    } catch (ConfigException e) {
      throw ApiError.badRequest("INVALID_CONFIG");
    }
  }

  private static long millis(JsonNode value) {
    if (!value.isTextual()) throw ApiError.badRequest("INVALID_CONFIG");
    try {
      long ms = ConfigFactory.empty().withValue("d", ConfigValueFactory.fromAnyRef(value.asText())).getDuration("d").toMillis();
      if (ms < 0) throw ApiError.badRequest("INVALID_CONFIG");
      return ms;
    } catch (ConfigException e) {
      throw ApiError.badRequest("INVALID_CONFIG");
    }
  }
}
