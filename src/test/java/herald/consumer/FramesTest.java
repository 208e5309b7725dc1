package herald.consumer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import herald.broker.ConsumerProtocol.Delivery;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FramesTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String ID_42 = "000000000000002a";

  // ---- parsing --------------------------------------------------------------------------------

  @Test
  void oneFrameMayCarryManyCommandsOnePerLine() throws Exception {
    assertEquals(java.util.List.of(new Frames.Fin(1), new Frames.Fin(2), new Frames.Rdy(5)),
        Frames.parseAll("FIN 0000000000000001\nFIN 0000000000000002\n\nRDY 5\n"));
    assertEquals(java.util.List.of(new Frames.Nop()), Frames.parseAll("NOP"));
    assertThrows(Frames.InvalidFrame.class, () -> Frames.parseAll("FIN 0000000000000001\nHELLO"));
    assertThrows(Frames.InvalidFrame.class, () -> Frames.parseAll("\n \n"));
  }

  @Test
  void parsesRdy() throws Exception {
    assertEquals(new Frames.Rdy(25), Frames.parse("RDY 25"));
    assertEquals(new Frames.Rdy(0), Frames.parse("RDY 0"));
  }

  @Test
  void parsesFin() throws Exception {
    assertEquals(new Frames.Fin(42), Frames.parse("FIN " + ID_42));
  }

  @Test
  void parsesReq() throws Exception {
    assertEquals(new Frames.Req(42, 1500), Frames.parse("REQ " + ID_42 + " 1500"));
    assertEquals(new Frames.Req(42, 0), Frames.parse("REQ " + ID_42 + " 0"));
  }

  @Test
  void parsesTouch() throws Exception {
    assertEquals(new Frames.Touch(42), Frames.parse("TOUCH " + ID_42));
  }

  @Test
  void parsesClsAndNop() throws Exception {
    assertEquals(new Frames.Cls(), Frames.parse("CLS"));
    assertEquals(new Frames.Nop(), Frames.parse("NOP"));
  }

  @Test
  void acceptsATrailingNewline() throws Exception {
    assertEquals(new Frames.Rdy(3), Frames.parse("RDY 3\n"));
    assertEquals(new Frames.Fin(42), Frames.parse("FIN " + ID_42 + "\n"));
    assertEquals(new Frames.Req(42, 7), Frames.parse("REQ " + ID_42 + " 7\n"));
    assertEquals(new Frames.Touch(42), Frames.parse("TOUCH " + ID_42 + "\n"));
    assertEquals(new Frames.Cls(), Frames.parse("CLS\n"));
    assertEquals(new Frames.Nop(), Frames.parse("NOP\n"));
  }

  @Test
  void parsesTheIdAsTheTopicOffset() throws Exception {
    assertEquals(new Frames.Fin(0), Frames.parse("FIN 0000000000000000"));
    assertEquals(new Frames.Fin(Long.MAX_VALUE), Frames.parse("FIN 7fffffffffffffff"));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "",
      "   ",
      "\n",
      "PUB topic",                              // unknown verb
      "rdy 1",                                  // verbs are upper case
      "RDYX 1",
      "RDY",                                    // missing count
      "RDY 1 2",                                // extra argument
      "RDY one",                                // count not a number
      "RDY 1.5",
      "RDY 99999999999999999999",               // does not fit a long
      "FIN",                                    // missing id
      "FIN 000000000000002a 1",                 // extra argument
      "FIN 2a",                                 // id too short
      "FIN 000000000000002g",                   // id not hex
      "FIN ffffffffffffffff",                   // id out of range
      "REQ",
      "REQ 000000000000002a",                   // missing delay
      "REQ 000000000000002a 10 20",             // extra argument
      "REQ 000000000000002a soon",              // delay not a number
      "REQ xyz 10",                             // bad id
      "TOUCH",
      "TOUCH 000000000000002a 5",
      "TOUCH nothex-nothex-1",
      "CLS now",                                // CLS takes no argument
      "NOP 1",                                  // NOP takes no argument
  })
  void malformedFramesAreInvalid(String frame) {
    assertThrows(Frames.InvalidFrame.class, () -> Frames.parse(frame), "'" + frame + "'");
    // The same line among FINs in one frame (where FIN lines are read in place) is refused the same way.
    if (!frame.isBlank()) {
      assertThrows(Frames.InvalidFrame.class, () -> Frames.parseAll("FIN " + ID_42 + "\n" + frame), "'" + frame + "'");
    }
  }

  @Test
  void finLinesReadInPlaceAreWhatParseMakesOfThem() throws Exception {
    String[] lines = {"FIN " + ID_42, "FIN 0000000000000000", "FIN 7fffffffffffffff", "FIN 00000000000000AB",
        "FIN  000000000000002a", " FIN 000000000000002a", "FIN 000000000000002a\r"};
    for (String line : lines) {
      assertEquals(java.util.List.of(Frames.parse(line), Frames.parse(line)), Frames.parseAll(line + "\n" + line), line);
    }
  }

  @Test
  void invalidFrameMessageIsAbbreviated() {
    String verb = "X".repeat(100);
    Frames.InvalidFrame e = assertThrows(Frames.InvalidFrame.class, () -> Frames.parse(verb));
    assertTrue(e.getMessage().length() < 80, e.getMessage());
  }

  // ---- formatting -----------------------------------------------------------------------------

  @Test
  void messageJsonCarriesIdTimestampAttemptsAndBody() throws Exception {
    JsonNode n = JSON.readTree(Frames.message(
        new Delivery(42, 1_700_000_000_123L, 3, ByteString.fromString("héllo \"w\"\n", StandardCharsets.UTF_8))));
    assertEquals("message", n.get("type").asText());
    assertEquals(ID_42, n.get("id").asText());
    assertEquals(1_700_000_000_123L, n.get("timestamp").asLong());
    assertEquals(3, n.get("attempts").asInt());
    assertEquals("héllo \"w\"\n", n.get("body").asText());
    assertFalse(n.has("body_base64"));
  }

  @Test
  void messageJsonWithEmptyBody() throws Exception {
    JsonNode n = JSON.readTree(Frames.message(new Delivery(0, 1, 1, ByteString.emptyByteString())));
    assertEquals("0000000000000000", n.get("id").asText());
    assertEquals("", n.get("body").asText());
    assertFalse(n.has("body_base64"));
  }

  @Test
  void messageJsonCarriesTheMsgIdOnlyWhenThereIsOne() throws Exception {
    JsonNode with = JSON.readTree(Frames.message(new Delivery(0, 1, 1, ByteString.fromString("x"), "pos orders billing 7")));
    assertEquals("pos orders billing 7", with.get("msg_id").asText());
    assertFalse(JSON.readTree(Frames.message(new Delivery(0, 1, 1, ByteString.fromString("x")))).has("msg_id"));
  }

  @Test
  void messageJsonWithANonUtf8BodyIsBase64() throws Exception {
    byte[] raw = {(byte) 0xff, (byte) 0xfe, 0, 'a', (byte) 0xc3};
    JsonNode n = JSON.readTree(Frames.message(new Delivery(7, 5, 1, ByteString.fromArray(raw))));
    assertEquals("message", n.get("type").asText());
    assertEquals("0000000000000007", n.get("id").asText());
    assertFalse(n.has("body"));
    assertArrayEquals(raw, Base64.getDecoder().decode(n.get("body_base64").asText()));
  }

  /** The message of a single-message frame, without the frame's size and type. */
  private static ByteString message(Delivery d) {
    return Frames.binaryFrames(List.of(d)).drop(8);
  }

  @Test
  void binaryHasNsqsLayout() {
    byte[] body = {1, 2, 3, (byte) 0xff};
    long timestampMs = 1_700_000_000_123L;
    ByteString frame = message(new Delivery(0x1234_5678_9abcL, timestampMs, 258, ByteString.fromArray(body)));
    ByteBuffer b = frame.asByteBuffer();
    assertEquals(8 + 2 + 16 + body.length, b.remaining());
    assertEquals(timestampMs * 1_000_000L, b.getLong(), "nanosecond timestamp, big-endian");
    assertEquals(258, b.getShort(), "attempts, big-endian");
    byte[] id = new byte[16];
    b.get(id);
    assertEquals("0000123456789abc", new String(id, StandardCharsets.US_ASCII));
    byte[] rest = new byte[b.remaining()];
    b.get(rest);
    assertArrayEquals(body, rest);
    // Big-endian, byte for byte: the first byte of the attempts field is the high byte.
    byte[] all = frame.toArray();
    assertArrayEquals(new byte[] {1, 2}, Arrays.copyOfRange(all, 8, 10));
  }

  @Test
  void binaryWithEmptyBodyIsJustTheHeader() {
    ByteString frame = message(new Delivery(1, 2, 1, ByteString.emptyByteString()));
    assertEquals(26, frame.length());
    assertEquals("0000000000000001", frame.slice(10, 26).decodeString(StandardCharsets.US_ASCII));
  }

  @Test
  void binaryFramesAreNsqMessageFramesBackToBack() {
    ByteString all = Frames.binaryFrames(List.of(
        new Delivery(1, 2, 1, ByteString.fromString("ab")),
        new Delivery(2, 3, 4, ByteString.emptyByteString())));
    ByteBuffer b = all.asByteBuffer();
    assertEquals(4 + 26 + 2, b.getInt(), "size: frame type + message");
    assertEquals(2, b.getInt(), "frame type 2: message");
    byte[] first = new byte[26 + 2];
    b.get(first);
    ByteBuffer m = ByteBuffer.wrap(first);
    assertEquals(2_000_000L, m.getLong(), "timestamp in ns");
    assertEquals(1, m.getShort(), "attempts");
    assertEquals("0000000000000001ab", new String(first, 10, 18, StandardCharsets.US_ASCII), "id, then body");
    assertEquals(4 + 26, b.getInt());
    assertEquals(2, b.getInt());
    byte[] second = new byte[26];
    b.get(second);
    assertEquals("0000000000000002", new String(second, 10, 16, StandardCharsets.US_ASCII));
    assertEquals(4, second[9], "attempts");
    assertEquals(0, b.remaining());
  }

  @Test
  void manySpacesBetweenWordsAndCrlfAreAccepted() throws Exception {
    assertEquals(List.of(new Frames.Req(0x2a, 500), new Frames.Fin(1)),
        Frames.parseAll("REQ   000000000000002a  500\r\nFIN 0000000000000001\n"));
  }
}
