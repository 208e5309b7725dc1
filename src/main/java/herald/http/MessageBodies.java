package herald.http;

import herald.broker.DedupId;
import org.apache.pekko.util.ByteString;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Splits an /mpub body into messages, checking every limit before anything is published. */
public final class MessageBodies {
  private MessageBodies() {}

  /** One message of a body, with the dedup id the publisher gave it (or null). */
  public record Body(String dedupId, ByteString bytes) {}

  /** Newline-separated messages; empty lines are skipped. */
  public static List<ByteString> text(ByteString body, int maxMsgSize) {
    List<ByteString> messages = new ArrayList<>();
    int start = 0;
    while (start <= body.length()) {
      int end = body.indexOf((byte) '\n', start);
      if (end < 0) end = body.length();
      ByteString line = body.slice(start, end);
      if (!line.isEmpty()) {
        if (line.length() > maxMsgSize) throw ApiError.tooLarge("MSG_TOO_BIG");
        messages.add(line);
      }
      start = end + 1;
    }
    if (messages.isEmpty()) throw ApiError.badRequest("MSG_EMPTY");
    return messages;
  }

  /** NSQ's binary layout: [4-byte count]([4-byte size][bytes])*, big-endian, nothing after. */
  public static List<ByteString> binary(ByteString body, int maxMsgSize) {
    return binary(body, maxMsgSize, false).stream().map(Body::bytes).toList();
  }

  /**
   * NSQ's binary layout, or with {@code withIds} Herald's variant that puts a dedup id before each
   * message: [4-byte count]([1-byte id length][id][4-byte size][bytes])*; id length 0 is no id.
   */
  public static List<Body> binary(ByteString body, int maxMsgSize, boolean withIds) {
    ByteBuffer buf = body.asByteBuffer();
    if (buf.remaining() < 4) throw ApiError.badRequest("BAD_BODY");
    int count = buf.getInt();
    if (count <= 0) throw ApiError.badRequest("BAD_BODY");
    // Every message takes at least 4 bytes, so a larger count cannot be honest.
    if ((long) count * 4 > buf.remaining()) throw ApiError.badRequest("BAD_BODY");
    List<Body> messages = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      String id = withIds ? id(buf) : null;
      if (buf.remaining() < 4) throw ApiError.badRequest("BAD_BODY");
      int size = buf.getInt();
      if (size < 0 || size > buf.remaining()) throw ApiError.badRequest("BAD_BODY");
      if (size == 0) throw ApiError.badRequest("MSG_EMPTY");
      if (size > maxMsgSize) throw ApiError.tooLarge("MSG_TOO_BIG");
      int at = body.length() - buf.remaining();
      messages.add(new Body(id, body.slice(at, at + size)));
      buf.position(buf.position() + size);
    }
    if (buf.hasRemaining()) throw ApiError.badRequest("BAD_BODY");
    return messages;
  }

  private static String id(ByteBuffer buf) {
    if (buf.remaining() < 1) throw ApiError.badRequest("BAD_BODY");
    int length = buf.get() & 0xff;
    if (length == 0) return null;
    if (length > buf.remaining()) throw ApiError.badRequest("BAD_BODY");
    byte[] bytes = new byte[length];
    buf.get(bytes);
    return checkedId(new String(bytes, StandardCharsets.ISO_8859_1));
  }

  /** A client's dedup id, or 400 with the reason it is not one. */
  public static String checkedId(String id) {
    String problem = DedupId.problem(id);
    if (problem != null) throw ApiError.badRequest(problem);
    return id;
  }
}
