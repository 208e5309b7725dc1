package herald.protocols.nsq;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.pekko.util.ByteString;

import java.time.Duration;

/**
 * IDENTIFY: what the client says of itself, checked against nsqd's bounds, and the feature
 * negotiation answer. TLS (tls_v1) is on when the node has a certificate and the client asks for
 * it; Herald offers no compression and does not sample, so it answers false (and sample_rate 0)
 * to a client that asks for them; auth_required says whether the node checks identities (then
 * AUTH comes before SUB and PUB).
 */
final class Identify {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** nsqd's defaults and bounds (its --max-heartbeat-interval, --output-buffer-timeout, ...). */
  static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(30);
  static final Duration MAX_HEARTBEAT = Duration.ofSeconds(60);
  static final int DEFAULT_OUTPUT_BUFFER_SIZE = 16 * 1024;
  static final int MAX_OUTPUT_BUFFER_SIZE = 64 * 1024;
  static final Duration DEFAULT_OUTPUT_BUFFER_TIMEOUT = Duration.ofMillis(250);
  static final Duration MIN_OUTPUT_BUFFER_TIMEOUT = Duration.ofMillis(25);
  static final Duration MAX_OUTPUT_BUFFER_TIMEOUT = Duration.ofSeconds(30);
  static final int MAX_DEFLATE_LEVEL = 6;

  /** The server side of the negotiation. */
  record Offer(String version, long maxRdyCount, Duration msgTimeout, Duration maxMsgTimeout, boolean authRequired, boolean tls) {}

  /**
   * The connection after IDENTIFY. heartbeat ZERO means disabled (the client sent -1). A client
   * that never identifies keeps {@link #defaults}.
   */
  record Client(
      String clientId, String hostname, String userAgent, Duration heartbeat, int outputBufferSize,
      Duration outputBufferTimeout, Duration msgTimeout, boolean featureNegotiation, boolean tlsV1) {

    /** As nsqd: TLS only through feature negotiation, when the node has a certificate. */
    boolean upgradesToTls(Offer offer) {
      return featureNegotiation && tlsV1 && offer.tls();
    }
  }

  /** A body nsqd refuses (E_BAD_BODY with this text). */
  static final class Refused extends Exception {
    Refused(String message) {
      super(message, null, false, false);
    }
  }

  private Identify() {}

  /** nsqd names a client by the host of its address until it says otherwise. */
  static Client defaults(String remoteHost, Offer offer) {
    return new Client(remoteHost, remoteHost, "", DEFAULT_HEARTBEAT, DEFAULT_OUTPUT_BUFFER_SIZE,
        DEFAULT_OUTPUT_BUFFER_TIMEOUT, offer.msgTimeout(), false, false);
  }

  static Client parse(ByteString body, Client before, Offer offer) throws Refused {
    JsonNode json;
    try {
      json = JSON.readTree(body.toArray());
    } catch (java.io.IOException e) {
      throw new Refused("IDENTIFY failed to decode JSON body");
    }
    if (json == null || !json.isObject()) throw new Refused("IDENTIFY failed to decode JSON body");
    // As nsqd: client_id, hostname and user_agent take what was sent, also nothing.
    String clientId = text(json, "client_id");
    String hostname = text(json, "hostname");
    String userAgent = text(json, "user_agent");
    int heartbeatMs = number(json, "heartbeat_interval");
    int bufferSize = number(json, "output_buffer_size");
    int bufferTimeoutMs = number(json, "output_buffer_timeout");
    int sampleRate = number(json, "sample_rate");
    int msgTimeoutMs = number(json, "msg_timeout");
    boolean negotiate = flag(json, "feature_negotiation");
    boolean tlsV1 = flag(json, "tls_v1");
    for (String f : new String[] {"deflate", "snappy"}) flag(json, f);
    number(json, "deflate_level");

    Duration heartbeat = before.heartbeat();
    if (heartbeatMs == -1) heartbeat = Duration.ZERO;
    else if (heartbeatMs >= 1000 && heartbeatMs <= MAX_HEARTBEAT.toMillis()) heartbeat = Duration.ofMillis(heartbeatMs);
    else if (heartbeatMs != 0) throw new Refused("IDENTIFY heartbeat interval (" + heartbeatMs + ") is invalid");

    Duration bufferTimeout = before.outputBufferTimeout();
    if (bufferTimeoutMs == -1) bufferTimeout = Duration.ZERO;
    else if (bufferTimeoutMs >= MIN_OUTPUT_BUFFER_TIMEOUT.toMillis() && bufferTimeoutMs <= MAX_OUTPUT_BUFFER_TIMEOUT.toMillis()) {
      bufferTimeout = Duration.ofMillis(bufferTimeoutMs);
    } else if (bufferTimeoutMs != 0) throw new Refused("IDENTIFY output buffer timeout (" + bufferTimeoutMs + ") is invalid");
    int size = before.outputBufferSize();
    if (bufferSize == -1) {
      size = 1;
      bufferTimeout = Duration.ZERO;
    } else if (bufferSize >= 64 && bufferSize <= MAX_OUTPUT_BUFFER_SIZE) size = bufferSize;
    else if (bufferSize != 0) throw new Refused("IDENTIFY output buffer size (" + bufferSize + ") is invalid");

    if (sampleRate < 0 || sampleRate > 99) throw new Refused("IDENTIFY sample rate (" + sampleRate + ") is invalid");

    Duration msgTimeout = before.msgTimeout();
    if (msgTimeoutMs >= 1000 && msgTimeoutMs <= offer.maxMsgTimeout().toMillis()) msgTimeout = Duration.ofMillis(msgTimeoutMs);
    else if (msgTimeoutMs != 0) throw new Refused("IDENTIFY msg timeout (" + msgTimeoutMs + ") is invalid");

    return new Client(clientId, hostname, userAgent, heartbeat, size, bufferTimeout, msgTimeout, negotiate, tlsV1);
  }

  /** nsqd's feature negotiation answer, its fields in its order. */
  static ByteString answer(Client client, Offer offer) {
    ObjectNode n = JSON.createObjectNode();
    n.put("max_rdy_count", offer.maxRdyCount());
    n.put("version", offer.version());
    n.put("max_msg_timeout", offer.maxMsgTimeout().toMillis());
    n.put("msg_timeout", client.msgTimeout().toMillis());
    n.put("tls_v1", client.upgradesToTls(offer));
    n.put("deflate", false);
    n.put("deflate_level", MAX_DEFLATE_LEVEL);
    n.put("max_deflate_level", MAX_DEFLATE_LEVEL);
    n.put("snappy", false);
    n.put("sample_rate", 0);
    n.put("auth_required", offer.authRequired());
    n.put("output_buffer_size", client.outputBufferSize());
    n.put("output_buffer_timeout", client.outputBufferTimeout().toMillis());
    return ByteString.fromString(n.toString());
  }

  // Go's json.Unmarshal into nsqd's struct: a field of the wrong type fails the whole body.
  private static String text(JsonNode json, String field) throws Refused {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) return "";
    if (!v.isTextual()) throw new Refused("IDENTIFY failed to decode JSON body");
    return v.asText();
  }

  private static int number(JsonNode json, String field) throws Refused {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) return 0;
    if (!v.isIntegralNumber() || !v.canConvertToInt()) throw new Refused("IDENTIFY failed to decode JSON body");
    return v.intValue();
  }

  private static boolean flag(JsonNode json, String field) throws Refused {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) return false;
    if (!v.isBoolean()) throw new Refused("IDENTIFY failed to decode JSON body");
    return v.booleanValue();
  }
}
