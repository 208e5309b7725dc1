package herald.consumer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import herald.broker.ConsumerProtocol.Delivery;
import herald.broker.MessageId;
import org.apache.pekko.util.ByteString;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** The WebSocket consumer protocol: NSQ's verbs in, JSON (or NSQ's binary message layout) out. */
public final class Frames {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Frames() {}

  /** A client command, parsed from one text frame. */
  public sealed interface ClientCommand permits Rdy, Fin, Fins, Req, Touch, Cls, Nop {}

  public record Rdy(long count) implements ClientCommand {}

  public record Fin(long offset) implements ClientCommand {}

  /** Consecutive FINs as one command (NSQ TCP's decoder reads them so); the array is the receiver's. */
  public record Fins(long[] offsets) implements ClientCommand {}

  public record Req(long offset, long delayMs) implements ClientCommand {}

  public record Touch(long offset) implements ClientCommand {}

  public record Cls() implements ClientCommand {}

  public record Nop() implements ClientCommand {}

  /** A frame that breaks the protocol: E_INVALID, then the connection closes. */
  public static final class InvalidFrame extends Exception {
    public InvalidFrame(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * All the commands of one frame: one per line, so a client may send many FINs in one frame (as
   * NSQ's TCP clients batch commands in one write). Blank lines are skipped; no command at all is
   * invalid.
   */
  public static List<ClientCommand> parseAll(String frame) throws InvalidFrame {
    List<ClientCommand> commands = new ArrayList<>();
    int start = 0;
    while (start <= frame.length()) {
      int end = frame.indexOf('\n', start);
      if (end < 0) end = frame.length();
      // A consumer's frame is mostly "FIN <id>" lines: those are read in place, anything else
      // (and a malformed id) takes the general path and its errors.
      if (end - start == FIN_LINE && frame.startsWith("FIN ", start)) {
        long offset = MessageId.parse(frame, start + 4);
        if (offset >= 0) {
          commands.add(new Fin(offset));
          start = end + 1;
          continue;
        }
      }
      String line = frame.substring(start, end);
      if (!line.isBlank()) commands.add(parse(line));
      start = end + 1;
    }
    if (commands.isEmpty()) throw new InvalidFrame("empty command");
    return commands;
  }

  private static final int FIN_LINE = "FIN ".length() + 16;

  public static ClientCommand parse(String frame) throws InvalidFrame {
    String text = frame.strip();
    if (text.isEmpty()) throw new InvalidFrame("empty command");
    String[] p = words(text);
    return switch (p[0]) {
      case "RDY" -> new Rdy(number(args(p, 2, "RDY count"), p[1], "RDY count"));
      case "FIN" -> new Fin(id(args(p, 2, "FIN id"), p[1]));
      case "REQ" -> new Req(id(args(p, 3, "REQ id delay_ms"), p[1]), number(p, p[2], "REQ delay"));
      case "TOUCH" -> new Touch(id(args(p, 2, "TOUCH id"), p[1]));
      case "CLS" -> {
        args(p, 1, "CLS");
        yield new Cls();
      }
      case "NOP" -> {
        args(p, 1, "NOP");
        yield new Nop();
      }
      default -> throw new InvalidFrame("invalid command " + abbreviate(p[0]));
    };
  }

  /** Splits on runs of spaces (String.split(" +") would compile a regex per command). */
  private static String[] words(String text) {
    List<String> words = new ArrayList<>(3);
    int i = 0;
    while (i < text.length()) {
      int end = text.indexOf(' ', i);
      if (end < 0) end = text.length();
      if (end > i) words.add(text.substring(i, end));
      i = end + 1;
    }
    return words.toArray(new String[0]);
  }

  private static String[] args(String[] parts, int expected, String usage) throws InvalidFrame {
    if (parts.length != expected) throw new InvalidFrame("expected '" + usage + "'");
    return parts;
  }

  private static long number(String[] parts, String value, String what) throws InvalidFrame {
    try {
      return Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new InvalidFrame(what + " is not a number: " + abbreviate(value));
    }
  }

  private static long id(String[] parts, String value) throws InvalidFrame {
    long offset = MessageId.parse(value);
    if (offset < 0) throw new InvalidFrame("invalid message id " + abbreviate(value));
    return offset;
  }

  private static String abbreviate(String s) {
    return s.length() > 32 ? s.substring(0, 32) + "..." : s;
  }

  // ---- server frames --------------------------------------------------------------------------
  public static String subscribed(String topic, String channel) {
    ObjectNode n = JSON.createObjectNode();
    n.put("type", "subscribed");
    n.put("topic", topic);
    n.put("channel", channel);
    return n.toString();
  }

  public static String message(Delivery d) {
    ObjectNode n = JSON.createObjectNode();
    n.put("type", "message");
    n.put("id", MessageId.of(d.offset()));
    n.put("timestamp", d.timestamp());
    n.put("attempts", d.attempts());
    // Herald's own field: the id it was published with (a dead letter's names its origin).
    if (d.msgId() != null) n.put("msg_id", d.msgId());
    String text = utf8(d.body());
    if (text != null) n.put("body", text);
    else n.put("body_base64", Base64.getEncoder().encodeToString(d.body().toArray()));
    return n.toString();
  }

  /** nsqd's frame type of a message frame. */
  public static final int FRAME_TYPE_MESSAGE = 2;
  /** A message's fixed part: 8-byte timestamp, 2-byte attempts, 16-byte id. */
  public static final int MESSAGE_HEADER = 8 + 2 + 16;
  /** A frame's header (size, type) plus a message's fixed part. */
  public static final int FRAME_OVERHEAD = 4 + 4 + MESSAGE_HEADER;

  /**
   * Messages as nsqd writes them on a TCP connection, back to back: each one
   * [4-byte size][4-byte frame type 2][message], where size counts the type and the message, and a
   * message is NSQ's layout [8-byte ns timestamp][2-byte attempts][16-byte id][body], big-endian.
   */
  public static ByteString binaryFrames(List<Delivery> deliveries) {
    // One flat array: a builder keeps each body as a piece of its own, and the socket's write then
    // copies hundreds of small pieces one by one.
    int size = 0;
    for (Delivery d : deliveries) size += FRAME_OVERHEAD + d.body().length();
    ByteBuffer b = ByteBuffer.allocate(size); // big-endian
    for (Delivery d : deliveries) {
      b.putInt(4 + MESSAGE_HEADER + d.body().length());
      b.putInt(FRAME_TYPE_MESSAGE);
      b.putLong(d.timestamp() * 1_000_000L);
      b.putShort((short) Math.min(d.attempts(), 0xFFFF));
      MessageId.putAscii(b, d.offset());
      d.body().copyToBuffer(b);
    }
    return ByteString.fromArrayUnsafe(b.array());
  }

  public static String error(String code, String message) {
    ObjectNode n = JSON.createObjectNode();
    n.put("type", "error");
    n.put("code", code);
    n.put("message", message);
    return n.toString();
  }

  public static String closeWait() {
    return "{\"type\":\"close_wait\"}";
  }

  private static String utf8(ByteString body) {
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(body.asByteBuffer())
          .toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }
}
