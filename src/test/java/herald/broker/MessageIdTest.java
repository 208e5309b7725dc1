package herald.broker;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MessageIdTest {

  @Test
  void idIsSixteenLowerCaseHexCharacters() {
    assertEquals("0000000000000000", MessageId.of(0));
    assertEquals("00000000000000ff", MessageId.of(255));
    assertEquals("0000000abcdef012", MessageId.of(0xabcdef012L));
    assertEquals("7fffffffffffffff", MessageId.of(Long.MAX_VALUE));
    for (long offset : new long[] {0, 1, 15, 16, 4095, 1L << 40, Long.MAX_VALUE - 1}) {
      String id = MessageId.of(offset);
      assertEquals(16, id.length(), id);
      assertTrue(id.matches("[0-9a-f]{16}"), id);
    }
  }

  @Test
  void parseRoundTrips() {
    for (long offset : new long[] {0, 1, 10, 255, 256, 123_456_789, 1L << 52, Long.MAX_VALUE}) {
      assertEquals(offset, MessageId.parse(MessageId.of(offset)));
      byte[] framed = ("FIN " + MessageId.of(offset)).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      assertEquals(offset, MessageId.parse(framed, 4));
      assertEquals(offset, MessageId.parse("FIN " + MessageId.of(offset), 4));
    }
  }

  @Test
  void putAsciiSpellsTheIdAsOfDoesWhereTheBufferStands() {
    for (long offset : new long[] {0, 1, 15, 16, 4095, 0xabcdef012L, 1L << 40, Long.MAX_VALUE}) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(20);
      b.putShort((short) 0x2a2a);
      MessageId.putAscii(b, offset);
      assertEquals(18, b.position(), "moved past the id");
      assertEquals(MessageId.of(offset), new String(b.array(), 2, 16, java.nio.charset.StandardCharsets.US_ASCII));
      assertEquals(0x2a, b.get(0), "what was before is kept");
    }
  }

  @Test
  void parseOfBytesRefusesWhatParseOfTextRefuses() {
    for (String bad : new String[] {"000000000000000g", "-000000000000001", "8000000000000000", "00000000 0000001"}) {
      assertEquals(-1, MessageId.parse(bad));
      assertEquals(-1, MessageId.parse(bad.getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0), bad);
    }
  }

  @Test
  void parseReadsHexDigits() {
    assertEquals(0x10, MessageId.parse("0000000000000010"));
    assertEquals(0xabcdefL, MessageId.parse("0000000000abcdef"));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "",                    // empty
      "0",                   // too short
      "000000000000000",     // 15 characters
      "00000000000000000",   // 17 characters
      "000000000000000g",    // not hex
      "00000000000000-1",    // sign inside
      "+000000000000001",    // sign in front
      "0000 00000000001",    // space
      "ffffffffffffffff",    // would be negative as a long
      "8000000000000000",    // Long.MIN_VALUE: negative
      "\uFF10\uFF10\uFF10\uFF10\uFF10\uFF10\uFF10\uFF10\uFF10\uFF10\uFF10\uFF10\uFF10\uFF10\uFF10\uFF21", // fullwidth digits
  })
  void parseRejectsMalformedIds(String id) {
    assertEquals(-1, MessageId.parse(id), "'" + id + "'");
  }
}
