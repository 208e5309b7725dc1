package herald.protocols.nsq;

import herald.broker.MessageId;
import herald.broker.Names;
import org.apache.pekko.util.ByteIterator;
import org.apache.pekko.util.ByteString;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Cuts the bytes of one connection into commands: the magic, then lines ending in '\n' (an '\r'
 * before it is dropped), and for IDENTIFY, AUTH, PUB, DPUB and MPUB a 4-byte big-endian size and a
 * body. What nsqd checks before it reads a body is checked here, in nsqd's order and with its
 * codes and texts, so that a bad size never makes us wait for (or hold) bytes that will not be
 * used. After an {@link NsqCommand.Invalid} nothing more is decoded: the connection closes.
 */
final class NsqDecoder {
  /** nsqd reads a command line through a 16 KiB buffer. */
  static final int MAX_LINE = 16 * 1024;

  record Limits(long maxMsgSize, long maxBodySize, long maxReqTimeoutMs) {}

  private final Limits limits;
  /** Bytes not yet decoded, from {@code pos} on: a read's lines are cut by position, not by a copy each. */
  private ByteString buffer = ByteString.emptyByteString();
  private int pos;
  private boolean magicRead;
  /** nsqd's state "init": before SUB. IDENTIFY and AUTH are allowed only then. */
  private boolean init = true;
  private List<String> waitingForBody;
  private boolean failed;
  /** A run of FINs read since the last other command. */
  private long[] fins = new long[64];
  private int finCount;
  /** {@code buffer}'s own array while a read's FINs are looked at (null until then, and after). */
  private byte[] bytes;

  NsqDecoder(Limits limits) {
    this.limits = limits;
  }

  /**
   * The connection switched to TLS: bytes still held from the clear-text stream are not the start
   * of the first decrypted command.
   */
  void dropHeld() {
    buffer = ByteString.emptyByteString();
    bytes = null;
    pos = 0;
    waitingForBody = null;
  }

  /** The commands complete after this chunk, in order; the last may be an Invalid. */
  List<NsqCommand> decode(ByteString chunk) {
    List<NsqCommand> out = new ArrayList<>();
    if (failed) return out;
    buffer = buffer.concat(chunk);
    // Lines are read byte by byte: one array, not a rope of reads. A body still arriving is not
    // copied again with every read.
    if (waitingForBody == null && !buffer.isCompact()) buffer = buffer.compact();
    if (!magicRead) {
      if (buffer.length() < 4) return out;
      if (!buffer.take(4).equals(NsqFrames.MAGIC_V2)) return fail(out, "E_BAD_PROTOCOL", "");
      buffer = buffer.drop(4);
      magicRead = true;
    }
    while (!failed) {
      if (waitingForBody == null && fin()) continue;
      finsTo(out);
      NsqCommand next = waitingForBody != null ? body() : line();
      if (next == null) break;
      out.add(next);
      if (next instanceof NsqCommand.Invalid) failed = true;
    }
    finsTo(out);
    buffer = failed ? ByteString.emptyByteString() : buffer.drop(pos);
    bytes = null;
    pos = 0;
    return out;
  }

  private List<NsqCommand> fail(List<NsqCommand> out, String code, String description) {
    failed = true;
    out.add(new NsqCommand.Invalid(code, description));
    return out;
  }

  private NsqCommand line() {
    int end = buffer.indexOf((byte) '\n', pos);
    // nsqd's buffer must hold the line with its '\n': a longer line is refused whether or not its
    // end has arrived in the same read.
    if (end < 0 ? buffer.length() - pos >= MAX_LINE : end - pos >= MAX_LINE) {
      return new NsqCommand.Invalid("E_INVALID", "command line too long");
    }
    if (end < 0) return null;
    int start = pos;
    int lineEnd = end > start && buffer.apply(end - 1) == '\r' ? end - 1 : end;
    pos = end + 1;
    List<String> params = split(buffer.slice(start, lineEnd).decodeString(StandardCharsets.UTF_8));
    String verb = params.get(0);
    switch (verb) {
      case "IDENTIFY":
        if (!init) return new NsqCommand.Invalid("E_INVALID", "cannot IDENTIFY in current state");
        break;
      case "AUTH":
        if (!init) return new NsqCommand.Invalid("E_INVALID", "cannot AUTH in current state");
        if (params.size() != 1) return new NsqCommand.Invalid("E_INVALID", "AUTH invalid number of parameters");
        break;
      case "PUB", "MPUB":
        if (params.size() < 2) return new NsqCommand.Invalid("E_INVALID", verb + " insufficient number of parameters");
        if (!Names.isValid(params.get(1))) return badTopic(verb, params.get(1));
        break;
      case "DPUB":
        if (params.size() < 3) return new NsqCommand.Invalid("E_INVALID", "DPUB insufficient number of parameters");
        if (!Names.isValid(params.get(1))) return badTopic(verb, params.get(1));
        long deferMs = base10(params.get(2));
        if (deferMs < 0) return new NsqCommand.Invalid("E_INVALID", "DPUB could not parse timeout " + params.get(2));
        if (deferMs > limits.maxReqTimeoutMs()) {
          return new NsqCommand.Invalid("E_INVALID", "DPUB timeout " + deferMs + " out of range 0-" + limits.maxReqTimeoutMs());
        }
        break;
      default:
        if (verb.equals("SUB")) init = false;
        return new NsqCommand.Line(params);
    }
    waitingForBody = params;
    return body();
  }

  private static final byte[] FIN = {'F', 'I', 'N', ' '};

  /**
   * Reads the line at {@code pos} into the run of FINs if it is a well-formed "FIN <16 hex digits>"
   * (a consumer sends one per message: read in place, no object each). Any other line, a FIN with a
   * bad id included, is left for the general path (and its errors). Read from the buffer's own
   * array rather than through ByteString's apply, a call per byte (this method was 2.8 % of the
   * node's CPU in a backlog drain, ~40 such calls a FIN).
   */
  private boolean fin() {
    if (bytes == null) {
      // Not compact only after a body that came in several reads: what follows it, without the body.
      if (!buffer.isCompact()) {
        buffer = buffer.drop(pos).compact();
        pos = 0;
      }
      bytes = buffer.toArrayUnsafe();
    }
    // The verb first: any other line is looked through for its end once, by the general path.
    if (bytes.length - pos < FIN.length) return false;
    for (int i = 0; i < FIN.length; i++) if (bytes[pos + i] != FIN[i]) return false;
    // The line ends right after the id: "\n", or "\r\n" (an id with a '\n' in it fails as hex).
    int idEnd = pos + FIN.length + 16;
    int end = idEnd < bytes.length && bytes[idEnd] == '\r' ? idEnd + 1 : idEnd;
    if (end >= bytes.length || bytes[end] != '\n') return false;
    long offset = MessageId.parse(bytes, pos + FIN.length);
    if (offset < 0) return false;
    if (finCount == fins.length) fins = java.util.Arrays.copyOf(fins, finCount * 2);
    fins[finCount++] = offset;
    pos = end + 1;
    return true;
  }

  /** The FINs read since the last other command, as one. */
  private void finsTo(List<NsqCommand> out) {
    if (finCount == 0) return;
    out.add(new NsqCommand.Fins(java.util.Arrays.copyOf(fins, finCount)));
    finCount = 0;
  }

  private static NsqCommand.Invalid badTopic(String verb, String topic) {
    // nsqd's MPUB repeats the code in its text.
    String prefix = verb.equals("MPUB") ? "E_BAD_TOPIC MPUB" : verb;
    return new NsqCommand.Invalid("E_BAD_TOPIC", prefix + " topic name " + quoted(topic) + " is not valid");
  }

  /** The body of the command in waitingForBody, once its size and all its bytes are here. */
  private NsqCommand body() {
    if (buffer.length() - pos < 4) return null;
    int size = (buffer.apply(pos) & 0xff) << 24 | (buffer.apply(pos + 1) & 0xff) << 16 | (buffer.apply(pos + 2) & 0xff) << 8
        | buffer.apply(pos + 3) & 0xff;
    String verb = waitingForBody.get(0);
    boolean message = verb.equals("PUB") || verb.equals("DPUB");
    String code = message ? "E_BAD_MESSAGE" : "E_BAD_BODY";
    long max = message ? limits.maxMsgSize() : limits.maxBodySize();
    // nsqd checks the two bounds in this order for IDENTIFY and AUTH, the other way round for the rest.
    boolean sizeFirst = verb.equals("IDENTIFY") || verb.equals("AUTH");
    String invalid = verb + (message ? " invalid message body size " : " invalid body size ") + size;
    String tooBig = verb + (message ? " message too big " : " body too big ") + size + " > " + max;
    if (sizeFirst && size > max) return new NsqCommand.Invalid(code, tooBig);
    if (size <= 0) return new NsqCommand.Invalid(code, invalid);
    if (size > max) return new NsqCommand.Invalid(code, tooBig);
    if (buffer.length() - pos < 4L + size) return null;
    ByteString body = buffer.slice(pos + 4, pos + 4 + size).compact();
    pos += 4 + size;
    List<String> params = waitingForBody;
    waitingForBody = null;
    return switch (verb) {
      case "IDENTIFY" -> new NsqCommand.Identify(body);
      case "AUTH" -> new NsqCommand.Auth(body);
      case "PUB" -> new NsqCommand.Pub(params.get(1), body);
      case "DPUB" -> new NsqCommand.Dpub(params.get(1), base10(params.get(2)), body);
      default -> mpub(params.get(1), body);
    };
  }

  /** MPUB's body: [4-byte count] then [4-byte size][bytes] per message, checked as nsqd does. */
  private NsqCommand mpub(String topic, ByteString body) {
    ByteIterator it = body.iterator();
    if (body.length() < 4) return new NsqCommand.Invalid("E_BAD_BODY", "MPUB failed to read message count");
    int count = it.getInt(ByteOrder.BIG_ENDIAN);
    long maxMessages = (limits.maxBodySize() - 4) / 5;
    if (count <= 0 || count > maxMessages) return new NsqCommand.Invalid("E_BAD_BODY", "MPUB invalid message count " + count);
    List<ByteString> bodies = new ArrayList<>(count);
    int pos = 4;
    for (int i = 0; i < count; i++) {
      if (body.length() - pos < 4) {
        return new NsqCommand.Invalid("E_BAD_MESSAGE", "MPUB failed to read message(" + i + ") body size");
      }
      int size = it.getInt(ByteOrder.BIG_ENDIAN);
      pos += 4;
      if (size <= 0) return new NsqCommand.Invalid("E_BAD_MESSAGE", "MPUB invalid message(" + i + ") body size " + size);
      if (size > limits.maxMsgSize()) {
        return new NsqCommand.Invalid("E_BAD_MESSAGE", "MPUB message too big " + size + " > " + limits.maxMsgSize());
      }
      if (body.length() - pos < size) return new NsqCommand.Invalid("E_BAD_MESSAGE", "MPUB failed to read message body");
      bodies.add(body.slice(pos, pos + size));
      it.drop(size);
      pos += size;
    }
    if (pos != body.length()) {
      // nsqd would read the rest as the next command; the body size is the bound here.
      return new NsqCommand.Invalid("E_BAD_BODY", "MPUB body size " + body.length() + " does not match its messages (" + pos + " bytes)");
    }
    return new NsqCommand.Mpub(topic, bodies);
  }

  /** nsqd's bytes.Split on one space: two spaces make an empty parameter. */
  static List<String> split(String line) {
    List<String> params = new ArrayList<>(3);
    int start = 0;
    while (true) {
      int end = line.indexOf(' ', start);
      if (end < 0) {
        params.add(line.substring(start));
        return params;
      }
      params.add(line.substring(start, end));
      start = end + 1;
    }
  }

  /** nsqd's ByteToBase10: digits only (no sign), empty is 0; -1 for anything else or an overflow. */
  static long base10(String s) {
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') return -1;
      if (n > (Long.MAX_VALUE - 9) / 10) return -1;
      n = n * 10 + (c - '0');
    }
    return n;
  }

  /** Go's %q for the names we print: double quotes, with '"' and '\' escaped. */
  static String quoted(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
