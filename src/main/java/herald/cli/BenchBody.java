package herald.cli;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.function.IntUnaryOperator;

/**
 * The body of a bench message: ASCII, no newline, exactly {@code size} bytes, unique per run.
 *
 * <pre>
 * HB rrrrrrrr - pppp - ssssssssssss - uuuuuuuuuuuuuuuu - xxxx...
 *    run id     publisher  sequence     publish time (µs)  padding
 * </pre>
 *
 * All numbers are fixed-width lower-case hex, so a consumer reads them without allocating.
 */
final class BenchBody {
  /** Bytes before the padding; the smallest allowed --size. */
  static final int HEADER = 46;
  private static final int RUN = 2;
  private static final int PUB = 11;
  private static final int SEQ = 16;
  private static final int TIME = 29;
  private static final byte[] HEX = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  private BenchBody() {}

  /** The fixed part of every body of one publisher: prefix, run id, publisher, dashes, padding. */
  static byte[] template(int size, int run, int publisher) {
    byte[] t = new byte[size];
    Arrays.fill(t, (byte) 'x');
    t[0] = 'H';
    t[1] = 'B';
    hex(t, RUN, 8, run & 0xFFFFFFFFL);
    t[RUN + 8] = '-';
    hex(t, PUB, 4, publisher);
    t[PUB + 4] = '-';
    t[SEQ + 12] = '-';
    t[TIME + 16] = '-';
    return t;
  }

  /**
   * One request body: {@code count} messages from sequence {@code firstSeq} on, each a copy of the
   * template with its sequence number and publish time filled in, separated by '\n'.
   */
  static byte[] request(byte[] template, long firstSeq, int count, long publishMicros) {
    int size = template.length;
    byte[] body = new byte[count * size + (count - 1)];
    int at = 0;
    for (int i = 0; i < count; i++) {
      if (i > 0) body[at++] = '\n';
      fill(body, at, template, firstSeq + i, publishMicros);
      at += size;
    }
    return body;
  }

  /** Bytes of a body that tell it apart within a run: "HB", run, publisher, sequence. */
  static final int NAME = SEQ + 12;

  /**
   * The same messages in /mpub's binary layout: NSQ's ({@code binary=true}, [count]([size][bytes])*)
   * when {@code from} is null, else Herald's with ids ({@code binary=true&msg_ids=true}), where each
   * message's id is its name (sequence) or the hash of its bytes (line).
   */
  static byte[] binaryRequest(byte[] template, long firstSeq, int count, long publishMicros, MsgIds from) {
    int size = template.length;
    int idLength = from == null ? 0 : from == MsgIds.sequence ? NAME : 32;
    int perId = from == null ? 0 : 1 + idLength;
    ByteBuffer body = ByteBuffer.allocate(4 + count * (perId + 4 + size));
    body.putInt(count);
    for (int i = 0; i < count; i++) {
      int at = body.position() + perId + 4;
      fill(body.array(), at, template, firstSeq + i, publishMicros);
      if (from != null) body.put((byte) idLength).put(id(body.array(), at, size, from));
      body.putInt(size);
      body.position(at + size);
    }
    return body.array();
  }

  /** The id of one message body (a whole array). */
  static byte[] id(byte[] message, MsgIds from) {
    return id(message, 0, message.length, from);
  }

  /** The id of the message body at {@code bytes[at, at + length)}. */
  private static byte[] id(byte[] bytes, int at, int length, MsgIds from) {
    return from == MsgIds.sequence ? Arrays.copyOfRange(bytes, at, at + NAME) : MsgIds.ofBytes(bytes, at, length);
  }

  /**
   * The same messages as NSQ's TCP protocol sends them: one PUB for a single message, otherwise
   * one MPUB ([count] then [size][bytes] per message); each command whole, with its size.
   */
  static byte[] nsqCommand(byte[] topicLine, byte[] template, long firstSeq, int count, long publishMicros) {
    int size = template.length;
    int bodySize = count == 1 ? size : 4 + count * (4 + size);
    ByteBuffer b = ByteBuffer.allocate(topicLine.length + 4 + bodySize);
    b.put(topicLine).putInt(bodySize);
    if (count > 1) b.putInt(count);
    for (int i = 0; i < count; i++) {
      if (count > 1) b.putInt(size);
      fill(b.array(), b.position(), template, firstSeq + i, publishMicros);
      b.position(b.position() + size);
    }
    return b.array();
  }

  private static void fill(byte[] dst, int at, byte[] template, long seq, long publishMicros) {
    System.arraycopy(template, 0, dst, at, template.length);
    hex(dst, at + SEQ, 12, seq);
    hex(dst, at + TIME, 16, publishMicros);
  }

  private static void hex(byte[] dst, int at, int digits, long value) {
    for (int i = digits - 1; i >= 0; i--) {
      dst[at + i] = HEX[(int) (value & 0xF)];
      value >>>= 4;
    }
  }

  /** What a consumer reads back from a body. Mutable and reused, one per consumer. */
  static final class Parsed {
    long run;
    int publisher;
    long seq;
    long publishMicros;
  }

  /** Reads a body at {@code buf[at, at + length)}; false when it is not a bench body. */
  static boolean parse(ByteBuffer buf, int at, int length, Parsed into) {
    return parse(i -> buf.get(at + i), length, into);
  }

  /** The same for a body that arrived as text (format=json). */
  static boolean parse(CharSequence body, Parsed into) {
    return parse(body::charAt, body.length(), into);
  }

  /** {@code charAt} gives the body's character at an index from 0. */
  private static boolean parse(IntUnaryOperator charAt, int length, Parsed into) {
    if (length < HEADER || charAt.applyAsInt(0) != 'H' || charAt.applyAsInt(1) != 'B') return false;
    long run = hex(charAt, RUN, 8);
    long pub = hex(charAt, PUB, 4);
    long seq = hex(charAt, SEQ, 12);
    long time = hex(charAt, TIME, 16);
    if (run < 0 || pub < 0 || seq < 0 || time == Long.MIN_VALUE) return false;
    into.run = run;
    into.publisher = (int) pub;
    into.seq = seq;
    into.publishMicros = time;
    return true;
  }

  /** Fixed-width hex; -1 (or MIN_VALUE for 16 digits, which use the sign bit) when not hex. */
  private static long hex(IntUnaryOperator charAt, int at, int digits) {
    long v = 0;
    for (int i = 0; i < digits; i++) {
      int d = digit(charAt.applyAsInt(at + i));
      if (d < 0) return digits == 16 ? Long.MIN_VALUE : -1;
      v = (v << 4) | d;
    }
    return v;
  }

  private static int digit(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }
}
