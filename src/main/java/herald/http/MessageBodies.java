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

  /** Newline-separated messages; empty lines are skipped, so there may be none (nsqd answers OK). */
  public static List<ByteString> text(ByteString body, int maxMsgSize) {
    List<ByteString> messages = new ArrayList<>();
    // Looked for in a view of the bytes: ByteString's indexOf on a slice (a request's entity is one)
    // reads them one by one through apply, and was a third of the /mpub route's samples.
    ByteBuffer bytes = body.asByteBuffer();
    int base = bytes.position();
    int length = bytes.remaining();
    int start = 0;
    while (start <= length) {
      int end = start;
      while (end < length && bytes.get(base + end) != '\n') end++;
      ByteString line = body.slice(start, end);
      if (!line.isEmpty()) {
        if (line.length() > maxMsgSize) throw ApiError.tooLarge("MSG_TOO_BIG");
        messages.add(line);
      }
      start = end + 1;
    }
    return messages;
  }

  /** NSQ's binary layout, as {@link #binary(ByteString, int, int, boolean)} without ids. */
  public static List<ByteString> binary(ByteString body, int maxMsgSize, int maxBodySize) {
    return binary(body, maxMsgSize, maxBodySize, false).stream().map(Body::bytes).toList();
  }

  /**
   * NSQ's binary layout: [4-byte count]([4-byte size][bytes])*, big-endian. Errors as nsqd's
   * readMPUB names them, all 413: BAD_BODY for the count, BAD_MESSAGE for a message. Like nsqd,
   * bytes after the last counted message are ignored. With {@code withIds}, Herald's variant that
   * puts a dedup id before each message: [4-byte count]([1-byte id length][id][4-byte size][bytes])*;
   * id length 0 is no id.
   */
  public static List<Body> binary(ByteString body, int maxMsgSize, int maxBodySize, boolean withIds) {
    ByteBuffer buf = body.asByteBuffer();
    if (buf.remaining() < 4) throw ApiError.tooLarge("BAD_BODY");
    int count = buf.getInt();
    // A message takes at least 5 bytes (size and one byte): a larger count cannot fit the limit.
    if (count <= 0 || count > (maxBodySize - 4) / 5) throw ApiError.tooLarge("BAD_BODY");
    List<Body> messages = new ArrayList<>(Math.min(count, buf.remaining() / 5 + 1));
    // Every id passes through here on its way to a String (which copies it): no array of its own.
    byte[] scratch = withIds ? new byte[DedupId.MAX_LENGTH] : null;
    for (int i = 0; i < count; i++) {
      String id = withIds ? id(buf, scratch) : null;
      if (buf.remaining() < 4) throw ApiError.tooLarge("BAD_MESSAGE");
      int size = buf.getInt();
      if (size <= 0 || size > maxMsgSize || size > buf.remaining()) throw ApiError.tooLarge("BAD_MESSAGE");
      int at = body.length() - buf.remaining();
      messages.add(new Body(id, body.slice(at, at + size)));
      buf.position(buf.position() + size);
    }
    return messages;
  }

  private static String id(ByteBuffer buf, byte[] scratch) {
    if (buf.remaining() < 1) throw ApiError.badRequest("BAD_BODY");
    int length = buf.get() & 0xff;
    if (length == 0) return null;
    if (length > buf.remaining()) throw ApiError.badRequest("BAD_BODY");
    if (length > scratch.length) throw ApiError.badRequest("MSG_ID_TOO_LONG");
    buf.get(scratch, 0, length);
    String problem = DedupId.problem(scratch, 0, length);
    if (problem != null) throw ApiError.badRequest(problem);
    return hashed(new String(scratch, 0, length, StandardCharsets.ISO_8859_1));
  }

  /**
   * {@code id} with its hash computed (a String keeps it): here, on one of the threads that parse
   * requests, while its bytes are in this core's cache, and not later on the topic's one thread,
   * whose dedup lookups need it (a profile of /mpub with ids, issue 14: 5 % of the node's Java
   * samples were the topic computing the hashes of new ids).
   */
  private static String hashed(String id) {
    id.hashCode();
    return id;
  }

  /** A client's dedup id, or 400 with the reason it is not one. */
  public static String checkedId(String id) {
    String problem = DedupId.problem(id);
    if (problem != null) throw ApiError.badRequest(problem);
    return hashed(id);
  }
}
