package herald.http;

import org.apache.pekko.util.ByteString;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/** Splits an /mpub body into messages, checking every limit before anything is published. */
public final class MessageBodies {
  private MessageBodies() {}

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
    ByteBuffer buf = body.asByteBuffer();
    if (buf.remaining() < 4) throw ApiError.badRequest("BAD_BODY");
    int count = buf.getInt();
    if (count <= 0) throw ApiError.badRequest("BAD_BODY");
    // Every message takes at least 4 bytes, so a larger count cannot be honest.
    if ((long) count * 4 > buf.remaining()) throw ApiError.badRequest("BAD_BODY");
    List<ByteString> messages = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      if (buf.remaining() < 4) throw ApiError.badRequest("BAD_BODY");
      int size = buf.getInt();
      if (size < 0 || size > buf.remaining()) throw ApiError.badRequest("BAD_BODY");
      if (size == 0) throw ApiError.badRequest("MSG_EMPTY");
      if (size > maxMsgSize) throw ApiError.tooLarge("MSG_TOO_BIG");
      int at = body.length() - buf.remaining();
      messages.add(body.slice(at, at + size));
      buf.position(buf.position() + size);
    }
    if (buf.hasRemaining()) throw ApiError.badRequest("BAD_BODY");
    return messages;
  }
}
