package herald.http;

import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MessageBodiesTest {
  private static final int MAX = 10;
  private static final int MAX_BODY = 1000;

  private static List<ByteString> binary(ByteString body) {
    return MessageBodies.binary(body, MAX, MAX_BODY);
  }

  private static ByteString utf8(String s) {
    return ByteString.fromString(s, StandardCharsets.UTF_8);
  }

  private static List<ByteString> lines(String... s) {
    return java.util.Arrays.stream(s).map(MessageBodiesTest::utf8).toList();
  }

  /** Builds NSQ's binary /mpub body: [count]([size][bytes])*. */
  private static final class Binary {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Binary int32(int v) {
      out.writeBytes(ByteBuffer.allocate(4).putInt(v).array());
      return this;
    }

    Binary bytes(byte[] b) {
      out.writeBytes(b);
      return this;
    }

    Binary message(byte[] b) {
      return int32(b.length).bytes(b);
    }

    ByteString build() {
      return ByteString.fromArray(out.toByteArray());
    }
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static void assertApiError(String code, int status, Supplier<?> call) {
    ApiError e = assertThrows(ApiError.class, call::get);
    assertEquals(code, e.code());
    HttpResponse response = e.response();
    assertEquals(status, response.status().intValue());
  }

  // ---- text mode ------------------------------------------------------------------------------

  @Test
  void textSplitsOnNewlines() {
    assertEquals(lines("a", "bc", "def"), MessageBodies.text(utf8("a\nbc\ndef"), MAX));
  }

  @Test
  void textWithTrailingNewlineHasNoEmptyLastMessage() {
    assertEquals(lines("one", "two"), MessageBodies.text(utf8("one\ntwo\n"), MAX));
  }

  @Test
  void textSkipsEmptyLines() {
    assertEquals(lines("x", "y"), MessageBodies.text(utf8("\n\nx\n\n\ny\n\n"), MAX));
  }

  @Test
  void textSingleMessageWithoutNewline() {
    assertEquals(lines("hello"), MessageBodies.text(utf8("hello"), MAX));
  }

  @Test
  void textKeepsBinaryBytesOtherThanNewline() {
    ByteString body = ByteString.fromArray(new byte[] {0, (byte) 0xff, 13, '\n', (byte) 0x80});
    List<ByteString> messages = MessageBodies.text(body, MAX);
    assertEquals(List.of(ByteString.fromArray(new byte[] {0, (byte) 0xff, 13}),
        ByteString.fromArray(new byte[] {(byte) 0x80})), messages);
  }

  @Test
  void textLineOfExactlyMaxSizeIsAccepted() {
    assertEquals(lines("0123456789", "z"), MessageBodies.text(utf8("0123456789\nz"), MAX));
  }

  @Test
  void textWithOnlyEmptyLinesHasNoMessages() {
    // nsqd answers such a body OK and publishes nothing.
    assertEquals(List.of(), MessageBodies.text(utf8("\n\n\n"), MAX));
    assertEquals(List.of(), MessageBodies.text(ByteString.emptyByteString(), MAX));
  }

  @Test
  void textOneLineOverMaxIsMsgTooBig() {
    assertApiError("MSG_TOO_BIG", 413, () -> MessageBodies.text(utf8("ok\n01234567890\nok"), MAX));
  }

  // ---- binary mode ----------------------------------------------------------------------------

  @Test
  void binaryValidBody() {
    ByteString body = new Binary().int32(3)
        .message(ascii("a"))
        .message(new byte[] {0, '\n', (byte) 0xff})
        .message(ascii("0123456789"))
        .build();
    assertEquals(List.of(utf8("a"), ByteString.fromArray(new byte[] {0, '\n', (byte) 0xff}), utf8("0123456789")),
        binary(body));
  }

  @Test
  void binaryBodyThatIsASliceOrSeveralChunks() {
    // HTTP entities arrive as slices of larger buffers or as several chunks.
    ByteString valid = new Binary().int32(2).message(ascii("xy")).message(ascii("z")).build();
    ByteString padded = ByteString.fromArray(new byte[] {9, 9, 9}).concat(valid).concat(ByteString.fromArray(new byte[] {7}));
    ByteString slice = padded.slice(3, 3 + valid.length());
    assertEquals(lines("xy", "z"), binary(slice));
    ByteString chunks = valid.slice(0, 5).concat(valid.slice(5, 9)).concat(valid.slice(9, valid.length()));
    assertEquals(lines("xy", "z"), binary(chunks));
  }

  @Test
  void textBodyThatIsASliceOrSeveralChunks() {
    ByteString padded = utf8("###a\nb###");
    assertEquals(lines("a", "b"), MessageBodies.text(padded.slice(3, 6), MAX));
    assertEquals(lines("ab", "c", "d"), MessageBodies.text(utf8("a").concat(utf8("b\nc")).concat(utf8("\n\nd\n")), MAX));
  }

  // Errors as nsqd's readMPUB: 413 BAD_BODY for the count, 413 BAD_MESSAGE for a message.

  @Test
  void binaryBodyShorterThanTheCountIsBadBody() {
    assertApiError("BAD_BODY", 413, () -> binary(ByteString.fromArray(new byte[] {0, 0, 1})));
    assertApiError("BAD_BODY", 413, () -> binary(ByteString.emptyByteString()));
  }

  @Test
  void binaryCountZeroIsBadBody() {
    assertApiError("BAD_BODY", 413, () -> binary(new Binary().int32(0).build()));
  }

  @Test
  void binaryNegativeCountIsBadBody() {
    assertApiError("BAD_BODY", 413, () -> binary(new Binary().int32(-1).message(ascii("a")).build()));
  }

  @Test
  void binaryCountThatCannotFitTheBodyLimitIsBadBody() {
    // (MAX_BODY - 4) / 5 messages of one byte fill the limit; one more cannot be in a body.
    int most = (MAX_BODY - 4) / 5;
    assertApiError("BAD_BODY", 413, () -> binary(new Binary().int32(most + 1).message(ascii("a")).build()));
    assertApiError("BAD_MESSAGE", 413, () -> binary(new Binary().int32(most).message(ascii("a")).build()));
  }

  @Test
  void binaryCountLargerThanTheMessagesIsBadMessage() {
    // Claims three messages, holds two: the third size cannot be read.
    ByteString body = new Binary().int32(3).message(ascii("abcdefgh")).message(ascii("b")).build();
    assertApiError("BAD_MESSAGE", 413, () -> binary(body));
  }

  @Test
  void binarySizeBeyondTheEndIsBadMessage() {
    ByteString body = new Binary().int32(1).int32(5).bytes(ascii("abc")).build();
    assertApiError("BAD_MESSAGE", 413, () -> binary(body));
  }

  @Test
  void binaryNegativeOrZeroSizeIsBadMessage() {
    assertApiError("BAD_MESSAGE", 413, () -> binary(new Binary().int32(1).int32(-3).bytes(ascii("abc")).build()));
    assertApiError("BAD_MESSAGE", 413, () -> binary(new Binary().int32(2).message(ascii("a")).int32(0).bytes(ascii("pad")).build()));
  }

  @Test
  void binarySizeOverMaxIsBadMessage() {
    ByteString body = new Binary().int32(1).message(ascii("01234567890")).build();
    assertApiError("BAD_MESSAGE", 413, () -> binary(body));
  }

  @Test
  void binaryTrailingBytesAreIgnored() {
    ByteString body = new Binary().int32(1).message(ascii("abc")).bytes(new byte[] {1, 2}).build();
    assertEquals(lines("abc"), binary(body));
  }

  // ---- binary mode with ids (msg_ids=true): [count]([id length][id][size][bytes])* --------------

  private static List<MessageBodies.Body> withIds(ByteString body) {
    return MessageBodies.binary(body, MAX, MAX_BODY, true);
  }

  @Test
  void binaryWithIdsGivesEachMessageItsIdOrNone() {
    ByteString body = new Binary().int32(3)
        .bytes(new byte[] {5}).bytes(ascii("ord-1")).message(ascii("a"))
        .bytes(new byte[] {0}).message(ascii("bc"))
        .bytes(new byte[] {2}).bytes(ascii("~!")).message(ascii("d"))
        .build();
    List<MessageBodies.Body> expected = List.of(new MessageBodies.Body("ord-1", utf8("a")),
        new MessageBodies.Body(null, utf8("bc")), new MessageBodies.Body("~!", utf8("d")));
    assertEquals(expected, withIds(body));
    // The same in chunks, as an HTTP entity may arrive.
    ByteString chunks = body.slice(0, 7).concat(body.slice(7, 13)).concat(body.slice(13, body.length()));
    assertEquals(expected, withIds(chunks));
  }

  @Test
  void binaryWithABadIdIsRejectedWithItsCode() {
    byte[] longId = new byte[65];
    java.util.Arrays.fill(longId, (byte) 'x');
    assertApiError("MSG_ID_TOO_LONG", 400,
        () -> withIds(new Binary().int32(1).bytes(new byte[] {65}).bytes(longId).message(ascii("a")).build()));
    assertApiError("INVALID_MSG_ID", 400,
        () -> withIds(new Binary().int32(1).bytes(new byte[] {3}).bytes(ascii("a b")).message(ascii("a")).build()));
    assertApiError("INVALID_MSG_ID", 400,
        () -> withIds(new Binary().int32(1).bytes(new byte[] {2}).bytes(new byte[] {'a', (byte) 0xe9}).message(ascii("a")).build()));
    assertApiError("BAD_BODY", 400, () -> withIds(new Binary().int32(1).bytes(new byte[] {9}).bytes(ascii("abc")).build()));
  }
}
