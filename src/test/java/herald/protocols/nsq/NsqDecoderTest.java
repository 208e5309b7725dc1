package herald.protocols.nsq;

import org.apache.pekko.util.ByteString;
import org.apache.pekko.util.ByteStringBuilder;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Framing as nsqd reads it: the magic, lines, sized bodies, and each error it finds before a body. */
class NsqDecoderTest {
  private static final NsqDecoder.Limits LIMITS = new NsqDecoder.Limits(100, 1000, 3_600_000);

  private static ByteString magic() {
    return ByteString.fromString("  V2");
  }

  private static ByteString line(String text) {
    return ByteString.fromString(text + "\n");
  }

  private static ByteString sized(ByteString body) {
    return new ByteStringBuilder().putInt(body.length(), ByteOrder.BIG_ENDIAN).append(body).result();
  }

  private static ByteString size(int n) {
    return new ByteStringBuilder().putInt(n, ByteOrder.BIG_ENDIAN).result();
  }

  private static ByteString mpubBody(String... messages) {
    ByteStringBuilder b = new ByteStringBuilder().putInt(messages.length, ByteOrder.BIG_ENDIAN);
    for (String m : messages) b.append(sized(ByteString.fromString(m)));
    return b.result();
  }

  private static List<NsqCommand> decode(ByteString... parts) {
    NsqDecoder d = new NsqDecoder(LIMITS);
    List<NsqCommand> out = new ArrayList<>();
    for (ByteString p : parts) out.addAll(d.decode(p));
    return out;
  }

  private static NsqCommand.Invalid invalid(List<NsqCommand> commands) {
    NsqCommand last = commands.get(commands.size() - 1);
    return assertInstanceOf(NsqCommand.Invalid.class, last, commands::toString);
  }

  @Test
  void everyCommandDecodesWholeAndAcrossEverySplit() {
    ByteString stream = magic()
        .concat(line("IDENTIFY")).concat(sized(ByteString.fromString("{\"client_id\":\"a\"}")))
        .concat(line("SUB orders billing"))
        .concat(line("RDY 10\r"))
        .concat(line("PUB orders")).concat(sized(ByteString.fromString("hello")))
        .concat(line("DPUB orders 1500")).concat(sized(ByteString.fromString("later")))
        .concat(line("MPUB orders")).concat(sized(mpubBody("one", "two")))
        .concat(line("FIN 000000000000002a"))
        .concat(line("NOP"));
    List<String> expected = List.of(
        "Identify[body=ByteString({\"client_id\":\"a\"})]",
        "Line[params=[SUB, orders, billing]]",
        "Line[params=[RDY, 10]]",
        "Pub[topic=orders, body=ByteString(hello)]",
        "Dpub[topic=orders, deferMs=1500, body=ByteString(later)]",
        "Mpub[topic=orders, bodies=[ByteString(one), ByteString(two)]]",
        "Fin[offset=42]",
        "Line[params=[NOP]]");
    assertEquals(expected, describe(decode(stream)));
    // The same bytes cut at every position, and byte by byte: TCP delivers any chunking.
    for (int cut = 1; cut < stream.length(); cut++) {
      assertEquals(expected, describe(decode(stream.take(cut), stream.drop(cut))), "cut at " + cut);
    }
    List<ByteString> bytes = new ArrayList<>();
    for (int i = 0; i < stream.length(); i++) bytes.add(stream.slice(i, i + 1));
    assertEquals(expected, describe(decode(bytes.toArray(ByteString[]::new))));
  }

  private static List<String> describe(List<NsqCommand> commands) {
    List<String> out = new ArrayList<>();
    for (NsqCommand c : commands) {
      if (c instanceof NsqCommand.Identify i) out.add("Identify[body=ByteString(" + i.body().utf8String() + ")]");
      else if (c instanceof NsqCommand.Pub p) out.add("Pub[topic=" + p.topic() + ", body=ByteString(" + p.body().utf8String() + ")]");
      else if (c instanceof NsqCommand.Dpub p) {
        out.add("Dpub[topic=" + p.topic() + ", deferMs=" + p.deferMs() + ", body=ByteString(" + p.body().utf8String() + ")]");
      } else if (c instanceof NsqCommand.Mpub m) {
        List<String> bodies = new ArrayList<>();
        for (ByteString b : m.bodies()) bodies.add("ByteString(" + b.utf8String() + ")");
        out.add("Mpub[topic=" + m.topic() + ", bodies=" + bodies + "]");
      } else if (c instanceof NsqCommand.Fins f) {
        // Runs are cut wherever a read ends: one line per FIN, so every split reads the same.
        for (long offset : f.offsets()) out.add("Fin[offset=" + offset + "]");
      } else out.add(c.toString());
    }
    return out;
  }

  @Test
  void onlyAWellFormedFinSkipsTheGeneralPath() {
    List<String> expected = List.of(
        "Fin[offset=42]",
        "Fin[offset=43]",
        "Line[params=[FIN, 000000000000002g]]",
        "Line[params=[FIN, 8000000000000000]]",
        "Line[params=[FIN, 2a]]",
        "Line[params=[FIN, , 000000000000002a]]",
        "Line[params=[FIN, 000000000000002a, x]]",
        "Line[params=[FIX, 000000000000002a]]",
        "Line[params=[FIN, 000000000000002a\r]]",
        "Line[params=[FIN]]");
    assertEquals(expected, describe(decode(magic(), line("FIN 000000000000002a"), line("FIN 000000000000002B\r"),
        line("FIN 000000000000002g"), line("FIN 8000000000000000"), line("FIN 2a"), line("FIN  000000000000002a"),
        line("FIN 000000000000002a x"), line("FIX 000000000000002a"), line("FIN 000000000000002a\r\r"), line("FIN"))));
  }

  @Test
  void consecutiveFinsOfAReadAreOneCommandInTheirPlace() {
    List<NsqCommand> read = decode(magic().concat(line("FIN 0000000000000001")).concat(line("FIN 0000000000000002"))
        .concat(line("RDY 5")).concat(line("FIN 0000000000000003")).concat(line("FIN 00000000000000ff")));
    assertEquals(List.of("Fins[1, 2]", "Line[params=[RDY, 5]]", "Fins[3, 255]"), read.stream().map(Object::toString).toList());
  }

  @Test
  void aWrongMagicIsEBadProtocol() {
    NsqCommand.Invalid bad = invalid(decode(ByteString.fromString("  V1PUB x\n")));
    assertEquals("E_BAD_PROTOCOL", bad.code());
    assertEquals("", bad.description());
  }

  @Test
  void nothingIsDecodedAfterAnError() {
    NsqDecoder d = new NsqDecoder(LIMITS);
    List<NsqCommand> first = d.decode(magic().concat(line("PUB bad!topic")));
    assertEquals("E_BAD_TOPIC", invalid(first).code());
    assertTrue(d.decode(line("NOP")).isEmpty());
  }

  @Test
  void publishErrorsInNsqdsOrderAndWords() {
    assertError("E_INVALID", "PUB insufficient number of parameters", line("PUB"));
    assertError("E_BAD_TOPIC", "PUB topic name \"a!\" is not valid", line("PUB a!"));
    // The topic is checked before the size: a bad topic with a bad size is still E_BAD_TOPIC.
    assertError("E_BAD_TOPIC", "PUB topic name \"x*\" is not valid", line("PUB x*"), size(-1));
    assertError("E_BAD_MESSAGE", "PUB invalid message body size 0", line("PUB t"), size(0));
    assertError("E_BAD_MESSAGE", "PUB message too big 101 > 100", line("PUB t"), size(101));
    assertError("E_INVALID", "DPUB insufficient number of parameters", line("DPUB t"));
    assertError("E_BAD_TOPIC", "DPUB topic name \"\" is not valid", line("DPUB  10"));
    assertError("E_INVALID", "DPUB could not parse timeout -5", line("DPUB t -5"));
    assertError("E_INVALID", "DPUB timeout 3600001 out of range 0-3600000", line("DPUB t 3600001"));
    assertError("E_BAD_MESSAGE", "DPUB invalid message body size -3", line("DPUB t 10"), size(-3));
    assertError("E_BAD_MESSAGE", "DPUB message too big 500 > 100", line("DPUB t 10"), size(500));
    assertError("E_INVALID", "MPUB insufficient number of parameters", line("MPUB"));
    assertError("E_BAD_TOPIC", "E_BAD_TOPIC MPUB topic name \"-?\" is not valid", line("MPUB -?"));
    assertError("E_BAD_BODY", "MPUB invalid body size 0", line("MPUB t"), size(0));
    assertError("E_BAD_BODY", "MPUB body too big 1001 > 1000", line("MPUB t"), size(1001));
  }

  @Test
  void mpubBodyErrors() {
    assertError("E_BAD_BODY", "MPUB failed to read message count", line("MPUB t"), sized(ByteString.fromString("ab")));
    assertError("E_BAD_BODY", "MPUB invalid message count 0", line("MPUB t"), sized(size(0)));
    assertError("E_BAD_BODY", "MPUB invalid message count 200", line("MPUB t"), sized(size(200).concat(size(1))));
    ByteString zero = size(1).concat(size(0));
    assertError("E_BAD_MESSAGE", "MPUB invalid message(0) body size 0", line("MPUB t"), sized(zero));
    ByteString big = size(1).concat(size(101)).concat(ByteString.fromArray(new byte[101]));
    assertError("E_BAD_MESSAGE", "MPUB message too big 101 > 100", line("MPUB t"), sized(big));
    ByteString cut = size(2).concat(sized(ByteString.fromString("one"))).concat(size(5)).concat(ByteString.fromString("ab"));
    assertError("E_BAD_MESSAGE", "MPUB failed to read message body", line("MPUB t"), sized(cut));
    ByteString noSize = size(2).concat(sized(ByteString.fromString("one"))).concat(ByteString.fromString("x"));
    assertError("E_BAD_MESSAGE", "MPUB failed to read message(1) body size", line("MPUB t"), sized(noSize));
    ByteString extra = mpubBody("one").concat(ByteString.fromString("zz"));
    assertError("E_BAD_BODY", "MPUB body size 13 does not match its messages (11 bytes)", line("MPUB t"), sized(extra));
  }

  @Test
  void identifyAndAuthErrors() {
    assertError("E_BAD_BODY", "IDENTIFY body too big 1001 > 1000", line("IDENTIFY"), size(1001));
    assertError("E_BAD_BODY", "IDENTIFY invalid body size 0", line("IDENTIFY"), size(0));
    assertError("E_INVALID", "AUTH invalid number of parameters", line("AUTH x"));
    assertError("E_BAD_BODY", "AUTH invalid body size -1", line("AUTH"), size(-1));
    // After SUB the connection is no longer in nsqd's init state.
    assertError("E_INVALID", "cannot IDENTIFY in current state", line("SUB t c"), line("IDENTIFY"));
    assertError("E_INVALID", "cannot AUTH in current state", line("SUB t c"), line("AUTH"));
  }

  @Test
  void anEndlessLineIsRefusedInsteadOfBuffered() {
    ByteString junk = ByteString.fromArray(new byte[NsqDecoder.MAX_LINE]);
    assertError("E_INVALID", "command line too long", junk);
  }

  @Test
  void aLineLongerThanNsqdsBufferIsRefusedEvenWithItsNewline() {
    // nsqd reads a line through a 16 KiB buffer: 16,384 bytes with the '\n' fit, one more does not,
    // however the bytes arrive.
    String fits = "NOP" + " ".repeat(NsqDecoder.MAX_LINE - 4);
    assertEquals(List.of(), decode(magic(), line(fits)).stream().filter(c -> c instanceof NsqCommand.Invalid).toList());
    assertError("E_INVALID", "command line too long", line(fits + " "));
  }

  @Test
  void numbersAsNsqdReadsThem() {
    assertEquals(0, NsqDecoder.base10(""));
    assertEquals(1500, NsqDecoder.base10("1500"));
    assertEquals(-1, NsqDecoder.base10("-1"));
    assertEquals(-1, NsqDecoder.base10("1e3"));
    assertEquals(-1, NsqDecoder.base10("99999999999999999999"));
    assertEquals(List.of("RDY", "", "5"), NsqDecoder.split("RDY  5"));
  }

  private static void assertError(String code, String description, ByteString... parts) {
    ByteString[] all = new ByteString[parts.length + 1];
    all[0] = magic();
    System.arraycopy(parts, 0, all, 1, parts.length);
    NsqCommand.Invalid bad = invalid(decode(all));
    assertEquals(code + " " + description, bad.code() + " " + bad.description());
  }
}
