package herald.protocols.nsq;

import org.apache.pekko.util.ByteString;
import org.apache.pekko.util.ByteStringBuilder;

import java.nio.ByteOrder;

/** nsqd's server frames: [4-byte size][4-byte type][data], big-endian, size counting type and data. */
final class NsqFrames {
  static final int TYPE_RESPONSE = 0;
  static final int TYPE_ERROR = 1;
  static final int TYPE_MESSAGE = 2;

  /** What a client sends first to speak protocol V2. */
  static final ByteString MAGIC_V2 = ByteString.fromString("  V2");

  static final ByteString OK = response("OK");
  static final ByteString HEARTBEAT = response("_heartbeat_");
  static final ByteString CLOSE_WAIT = response("CLOSE_WAIT");

  private NsqFrames() {}

  static ByteString response(String text) {
    return frame(TYPE_RESPONSE, ByteString.fromString(text));
  }

  static ByteString response(ByteString data) {
    return frame(TYPE_RESPONSE, data);
  }

  /** nsqd's error frame: the code, a space, the description. */
  static ByteString error(String code, String description) {
    return frame(TYPE_ERROR, ByteString.fromString(description.isEmpty() ? code : code + " " + description));
  }

  static ByteString frame(int type, ByteString data) {
    ByteStringBuilder b = new ByteStringBuilder();
    b.putInt(4 + data.length(), ByteOrder.BIG_ENDIAN);
    b.putInt(type, ByteOrder.BIG_ENDIAN);
    b.append(data);
    return b.result();
  }
}
