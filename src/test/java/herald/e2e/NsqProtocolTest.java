package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * NSQ's TCP protocol V2 against a real node, byte by byte: each command, each error code and
 * whether it closes the connection, as nsqd v1.3.0 answers.
 */
class NsqProtocolTest extends SharedNode {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @BeforeAll
  static void start() throws Exception {
    startNode("--msg-timeout", "60s");
  }

  private static int port() {
    return node.tcpPort();
  }

  /** A frame without a message's id: "message BODY", "response OK". */
  private static String strip(NsqSocket.Frame f) {
    return f.isMessage() ? "message " + f.body() : f.toString();
  }

  private static void assertOk(NsqSocket.Frame f) {
    assertEquals("response OK", f.toString());
  }

  /** The error frame a fatal error sends, then the close. */
  private static void assertFatal(NsqSocket s, String expected) throws Exception {
    NsqSocket.Frame last = s.lastFrameBeforeClose(WAIT);
    assertEquals("error " + expected, String.valueOf(last));
  }

  @Test
  void identifyNegotiatesWhatHeraldOffers() throws Exception {
    try (NsqSocket s = new NsqSocket(port())) {
      JsonNode answer = s.identify("{\"client_id\":\"c1\",\"hostname\":\"h1\",\"user_agent\":\"ua/1\",\"feature_negotiation\":true,"
          + "\"heartbeat_interval\":5000,\"msg_timeout\":5000,\"tls_v1\":true,\"snappy\":true,\"deflate\":true,\"sample_rate\":10,"
          + "\"output_buffer_size\":2048,\"output_buffer_timeout\":100}").json();
      assertEquals(2500, answer.path("max_rdy_count").asLong());
      assertEquals(900_000, answer.path("max_msg_timeout").asLong());
      assertEquals(5000, answer.path("msg_timeout").asLong());
      assertFalse(answer.path("tls_v1").asBoolean(true));
      assertFalse(answer.path("snappy").asBoolean(true));
      assertFalse(answer.path("deflate").asBoolean(true));
      assertFalse(answer.path("auth_required").asBoolean(true));
      assertEquals(0, answer.path("sample_rate").asInt(-1), "Herald does not sample");
      assertEquals(2048, answer.path("output_buffer_size").asInt());
      assertEquals(100, answer.path("output_buffer_timeout").asInt());
      assertTrue(answer.path("version").isTextual());
    }
    try (NsqSocket s = new NsqSocket(port())) {
      assertOk(s.identify("{\"client_id\":\"c2\"}"));
    }
  }

  @Test
  void statsListsTcpPublishersAsProducers() throws Exception {
    String a = unique("producer-a");
    String b = unique("producer-b");
    String clientId = unique("publisher");
    try (NsqSocket pub = new NsqSocket(port())) {
      assertOk(pub.identify("{\"client_id\":\"" + clientId + "\",\"hostname\":\"pub-host\",\"user_agent\":\"pub/1\"}"));
      assertTrue(producer(clientId, "").isMissingNode(), "not a producer before its first publish");
      pub.send("PUB " + a, "one");
      assertOk(pub.next(WAIT));
      pub.send("PUB " + a, "two");
      assertOk(pub.next(WAIT));
      pub.send("MPUB " + b, NsqSocket.mpubBody("x", "y", "z"));
      assertOk(pub.next(WAIT));
      assertEquals(200, http.post("/pub?topic=" + a, "over http").status());

      JsonNode p = producer(clientId, "");
      assertEquals("pub-host", p.path("hostname").asText());
      assertEquals("pub/1", p.path("user_agent").asText());
      assertEquals("V2", p.path("version").asText());
      assertEquals(0, p.path("state").asInt(-1), "nsqd's init state: a publisher never subscribes");
      assertTrue(p.path("remote_address").asText().startsWith("127.0.0.1:"));
      assertTrue(p.path("connect_ts").asLong() > 0);
      assertFalse(p.path("tls").asBoolean(true));
      assertFalse(p.has("authed"), "nsqd leaves out what is empty");
      assertEquals("[{\"topic\":\"" + a + "\",\"count\":2},{\"topic\":\"" + b + "\",\"count\":3}]",
          p.path("pub_counts").toString(), "TCP publishes only, per topic");
      assertEquals("[{\"topic\":\"" + b + "\",\"count\":3}]", producer(clientId, "&topic=" + b).path("pub_counts").toString());
      assertTrue(http.get("/stats?format=json&include_clients=false").json().path("producers").isNull());
    }
    Await.until(WAIT, "a closed connection is no producer any more", () -> producer(clientId, "").isMissingNode());
  }

  /** The producer with this client_id in /stats?format=json (plus {@code query}), or a missing node. */
  private static JsonNode producer(String clientId, String query) throws Exception {
    for (JsonNode p : http.get("/stats?format=json" + query).json().path("producers")) {
      if (p.path("client_id").asText().equals(clientId)) return p;
    }
    return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
  }

  @Test
  void identifyOutOfBoundsIsEBadBodyAndCloses() throws Exception {
    try (NsqSocket s = new NsqSocket(port())) {
      s.send("IDENTIFY", "{\"heartbeat_interval\":500}");
      assertFatal(s, "E_BAD_BODY IDENTIFY heartbeat interval (500) is invalid");
    }
    try (NsqSocket s = new NsqSocket(port())) {
      s.send("IDENTIFY", "{\"msg_timeout\":999999999}");
      assertFatal(s, "E_BAD_BODY IDENTIFY msg timeout (999999999) is invalid");
    }
    try (NsqSocket s = new NsqSocket(port())) {
      s.send("IDENTIFY", "{\"client_id\":5}");
      assertFatal(s, "E_BAD_BODY IDENTIFY failed to decode JSON body");
    }
  }

  @Test
  void publishSubscribeFinAndStats() throws Exception {
    String topic = unique("tcp-basic");
    try (NsqSocket pub = new NsqSocket(port()); NsqSocket sub = NsqSocket.subscribe(port(), topic, "ch", 1)) {
      pub.send("PUB " + topic, "hello");
      assertOk(pub.next(WAIT));
      NsqSocket.Frame m = sub.next(WAIT);
      assertTrue(m.isMessage(), m::toString);
      assertEquals("hello", m.body());
      assertEquals(1, m.attempts());
      long ageMs = System.currentTimeMillis() - m.timestampNanos() / 1_000_000;
      assertTrue(ageMs >= 0 && ageMs < 60_000, "timestamp in nanoseconds of the publish: " + m.timestampNanos());
      sub.send("FIN " + m.id());
      JsonNode client = Await.value(WAIT, "the TCP client in /stats with one FIN", () -> {
        JsonNode c = http.channelStats(topic, "ch").path("clients").path(0);
        return c.path("finish_count").asLong() == 1 ? c : null;
      });
      assertEquals("test", client.path("client_id").asText());
      assertEquals("test-host", client.path("hostname").asText());
      assertEquals("herald-test/1", client.path("user_agent").asText());
      assertEquals("V2", client.path("version").asText());
      assertFalse(client.path("tls").asBoolean(true));
      assertFalse(client.path("snappy").asBoolean(true));
      assertFalse(client.path("deflate").asBoolean(true));
      assertEquals(0, client.path("sample_rate").asInt(-1));
      assertEquals(1, client.path("ready_count").asLong());
      assertEquals(1, client.path("message_count").asLong());
      assertEquals(0, client.path("in_flight_count").asLong());
      assertTrue(client.path("connect_ts").asLong() > 0);
    }
  }

  @Test
  void mpubAndDpub() throws Exception {
    String topic = unique("tcp-mpub");
    http.createChannel(topic, "ch");
    try (NsqSocket pub = new NsqSocket(port())) {
      pub.send("MPUB " + topic, NsqSocket.mpubBody("a", "b", "c"));
      assertOk(pub.next(WAIT));
      long published = System.currentTimeMillis();
      pub.send("DPUB " + topic + " 1500", "deferred");
      assertOk(pub.next(WAIT));
      try (NsqSocket sub = NsqSocket.subscribe(port(), topic, "ch", 10)) {
        Set<String> bodies = new HashSet<>();
        for (int i = 0; i < 3; i++) {
          NsqSocket.Frame m = sub.next(WAIT);
          bodies.add(m.body());
          sub.send("FIN " + m.id());
        }
        assertEquals(Set.of("a", "b", "c"), bodies);
        NsqSocket.Frame deferred = sub.next(WAIT);
        assertEquals("deferred", deferred.body());
        assertTrue(System.currentTimeMillis() - published >= 1500, "DPUB's message waits its 1500 ms");
      }
    }
  }

  @Test
  void reqWithDelayRedeliversWithTheNextAttempt() throws Exception {
    String topic = unique("tcp-req");
    try (NsqSocket sub = NsqSocket.subscribe(port(), topic, "ch", 1); NsqSocket pub = new NsqSocket(port())) {
      pub.send("PUB " + topic, "again");
      assertOk(pub.next(WAIT));
      NsqSocket.Frame first = sub.next(WAIT);
      long requeued = System.currentTimeMillis();
      sub.send("REQ " + first.id() + " 1200");
      NsqSocket.Frame second = sub.next(WAIT);
      assertEquals(first.id(), second.id());
      assertEquals(2, second.attempts());
      assertTrue(System.currentTimeMillis() - requeued >= 1200, "held for the REQ's delay");
      sub.send("FIN " + second.id());
    }
  }

  @Test
  void msgTimeoutRedeliversAndTouchExtends() throws Exception {
    String topic = unique("tcp-timeout");
    try (NsqSocket pub = new NsqSocket(port()); NsqSocket sub = NsqSocket.subscribe(port(), topic, "ch", 1, "{\"msg_timeout\":1000}")) {
      pub.send("PUB " + topic, "slow");
      assertOk(pub.next(WAIT));
      NsqSocket.Frame first = sub.next(WAIT);
      // Not FINed: after msg_timeout it comes again, one attempt more.
      NsqSocket.Frame again = sub.next(WAIT);
      assertEquals(first.id(), again.id());
      assertEquals(2, again.attempts());
      sub.send("FIN " + again.id());
    }
    String touched = unique("tcp-touch");
    try (NsqSocket pub = new NsqSocket(port()); NsqSocket sub = NsqSocket.subscribe(port(), touched, "ch", 1, "{\"msg_timeout\":3000}")) {
      pub.send("PUB " + touched, "kept");
      assertOk(pub.next(WAIT));
      NsqSocket.Frame m = sub.next(WAIT);
      long until = System.currentTimeMillis() + 7000;
      // TOUCH well inside each 3 s timeout for 7 s (over two timeouts): the message stays ours.
      while (System.currentTimeMillis() < until) {
        sub.send("TOUCH " + m.id());
        sub.send("NOP");
        Thread.sleep(500); // the client's pace, not a wait for the server
      }
      sub.send("FIN " + m.id());
      sub.send("PUB " + touched, "marker");
      // Had the message timed out, a FIN failure or the message itself would come now; instead the
      // PUB's OK and the marker (RDY 1 is free again), in either order.
      assertEquals(Set.of("response OK", "message marker"), Set.of(strip(sub.next(WAIT)), strip(sub.next(WAIT))));
      JsonNode ch = http.channelStats(touched, "ch");
      assertEquals(0, ch.path("timeout_count").asLong(), ch::toString);
    }
  }

  @Test
  void rdyBoundsWhatIsInFlight() throws Exception {
    String topic = unique("tcp-rdy");
    http.createChannel(topic, "ch");
    try (NsqSocket pub = new NsqSocket(port())) {
      pub.send("MPUB " + topic, NsqSocket.mpubBody("1", "2", "3", "4", "5"));
      assertOk(pub.next(WAIT));
    }
    try (NsqSocket sub = NsqSocket.subscribe(port(), topic, "ch", 2)) {
      NsqSocket.Frame a = sub.next(WAIT);
      NsqSocket.Frame b = sub.next(WAIT);
      // RDY 2: a third message must not come while two are in flight. 1.5 s is many times what a
      // delivery takes here (the first two came at once).
      assertNoFrame(sub, Duration.ofMillis(1500));
      sub.send("FIN " + a.id());
      NsqSocket.Frame c = sub.next(WAIT);
      assertTrue(c.isMessage(), c::toString);
      sub.send("RDY 0");
      sub.send("FIN " + b.id());
      sub.send("FIN " + c.id());
      assertNoFrame(sub, Duration.ofMillis(1500));
    }
  }

  private static void assertNoFrame(NsqSocket s, Duration d) throws Exception {
    try {
      NsqSocket.Frame f = s.next(d);
      throw new IllegalStateException("unexpected frame " + f);
    } catch (AssertionError expected) {
      assertTrue(expected.getMessage().startsWith("no frame"), expected.getMessage());
    }
  }

  @Test
  void nonFatalErrorsKeepTheConnection() throws Exception {
    String topic = unique("tcp-nonfatal");
    try (NsqSocket sub = NsqSocket.subscribe(port(), topic, "ch", 1)) {
      sub.send("FIN 00000000000000ff");
      assertEquals("error E_FIN_FAILED FIN 00000000000000ff failed ID not in flight", sub.next(WAIT).toString());
      sub.send("REQ 00000000000000ff 0");
      assertEquals("error E_REQ_FAILED REQ 00000000000000ff failed ID not in flight", sub.next(WAIT).toString());
      sub.send("TOUCH 00000000000000ff");
      assertEquals("error E_TOUCH_FAILED TOUCH 00000000000000ff failed ID not in flight", sub.next(WAIT).toString());
      // 16 bytes that are no Herald id: nsqd too fails only the command for an id it does not hold.
      sub.send("FIN zzzzzzzzzzzzzzzz");
      assertEquals("error E_FIN_FAILED FIN zzzzzzzzzzzzzzzz failed ID not in flight", sub.next(WAIT).toString());
      sub.send("PUB " + topic, "still here");
      // The PUB's OK and the delivery of its message (RDY 1) may come in either order.
      assertEquals(Set.of("response OK", "message still here"), Set.of(strip(sub.next(WAIT)), strip(sub.next(WAIT))));
    }
  }

  @Test
  void fatalErrorsCloseWithNsqdsCodes() throws Exception {
    String t = unique("tcp-fatal");
    fatal("E_INVALID invalid command HELLO", s -> s.send("HELLO"));
    fatal("E_BAD_TOPIC PUB topic name \"no/slash\" is not valid", s -> s.send("PUB no/slash", "x"));
    fatal("E_BAD_TOPIC SUB topic name \"a*\" is not valid", s -> s.send("SUB a* ch"));
    fatal("E_BAD_CHANNEL SUB channel name \"c!h\" is not valid", s -> s.send("SUB " + t + " c!h"));
    fatal("E_INVALID SUB insufficient number of parameters", s -> s.send("SUB " + t));
    fatal("E_INVALID cannot RDY in current state", s -> s.send("RDY 1"));
    fatal("E_INVALID cannot FIN in current state", s -> s.send("FIN 0000000000000001"));
    fatal("E_INVALID cannot CLS in current state", s -> s.send("CLS"));
    fatal("E_BAD_MESSAGE PUB invalid message body size 0", s -> s.send("PUB " + t, new byte[0]));
    fatal("E_BAD_MESSAGE PUB message too big 1048577 > 1048576", s -> s.write(sizeOnly("PUB " + t, 1048577)));
    fatal("E_BAD_BODY MPUB invalid message count 0", s -> s.send("MPUB " + t, new byte[4]));
    fatal("E_INVALID DPUB timeout 3600001 out of range 0-3600000", s -> s.send("DPUB " + t + " 3600001", "x"));
    // A node without --auth-file or --auth-http-address.
    fatal("E_AUTH_DISABLED AUTH disabled", s -> s.send("AUTH", "secret"));
    fatal("E_INVALID cannot SUB with heartbeats disabled", s -> {
      s.identify("{\"heartbeat_interval\":-1}");
      s.send("SUB " + t + " ch");
    });
    try (NsqSocket s = NsqSocket.subscribe(port(), t, "ch", 0)) {
      s.send("RDY 2501");
      assertFatal(s, "E_INVALID RDY count 2501 out of range 0-2500");
    }
    // SUB and a bad RDY in one write: nsqd answers the SUB before it reads the RDY, so OK comes first.
    try (NsqSocket s = new NsqSocket(port())) {
      s.write(("SUB " + t + " ch\nRDY 2501\n").getBytes(StandardCharsets.US_ASCII));
      assertOk(s.read(WAIT));
      assertFatal(s, "E_INVALID RDY count 2501 out of range 0-2500");
    }
    // CLS's CLOSE_WAIT too comes before a fatal error that follows it in the same write.
    try (NsqSocket s = new NsqSocket(port())) {
      s.write(("SUB " + t + " ch\nCLS\nHELLO\n").getBytes(StandardCharsets.US_ASCII));
      assertOk(s.read(WAIT));
      assertEquals("response CLOSE_WAIT", String.valueOf(s.read(WAIT)));
      assertFatal(s, "E_INVALID invalid command HELLO");
    }
    try (NsqSocket s = NsqSocket.subscribe(port(), t, "ch", 0)) {
      s.write("CLS\nHELLO\n".getBytes(StandardCharsets.US_ASCII));
      assertEquals("response CLOSE_WAIT", String.valueOf(s.read(WAIT)));
      assertFatal(s, "E_INVALID invalid command HELLO");
    }
    try (NsqSocket s = NsqSocket.subscribe(port(), t, "ch", 0)) {
      s.send("SUB " + t + " other");
      assertFatal(s, "E_INVALID cannot SUB in current state");
    }
    try (NsqSocket s = NsqSocket.subscribe(port(), t, "ch", 0)) {
      s.send("FIN 123");
      assertFatal(s, "E_INVALID invalid message ID");
    }
    try (NsqSocket s = new NsqSocket(port(), false)) {
      s.write("  V1".getBytes(StandardCharsets.US_ASCII));
      assertFatal(s, "E_BAD_PROTOCOL");
    }
  }

  /** A command line and a body size without the body: the server refuses it on the size alone. */
  private static byte[] sizeOnly(String line, int size) {
    byte[] text = (line + "\n").getBytes(StandardCharsets.UTF_8);
    return java.nio.ByteBuffer.allocate(text.length + 4).put(text).putInt(size).array();
  }

  interface Action {
    void run(NsqSocket s) throws Exception;
  }

  private static void fatal(String expected, Action action) throws Exception {
    try (NsqSocket s = new NsqSocket(port())) {
      action.run(s);
      assertFatal(s, expected);
    }
  }

  @Test
  void clsAnswersCloseWaitAndStopsDeliveries() throws Exception {
    String topic = unique("tcp-cls");
    try (NsqSocket sub = NsqSocket.subscribe(port(), topic, "ch", 5); NsqSocket pub = new NsqSocket(port())) {
      pub.send("PUB " + topic, "one");
      assertOk(pub.next(WAIT));
      NsqSocket.Frame m = sub.next(WAIT);
      sub.send("CLS");
      assertEquals("response CLOSE_WAIT", sub.next(WAIT).toString());
      sub.send("RDY 5"); // ignored after CLS, as nsqd
      sub.send("FIN " + m.id()); // still allowed while closing
      pub.send("PUB " + topic, "two");
      assertOk(pub.next(WAIT));
      // Nothing more comes after CLOSE_WAIT; 1.5 s is ample for a delivery on this node.
      assertNoFrame(sub, Duration.ofMillis(1500));
    }
  }

  @Test
  void heartbeatsAndTheirAbsence() throws Exception {
    try (NsqSocket s = new NsqSocket(port())) {
      long identified = System.nanoTime(); // before the server can start its read deadline
      s.identify("{\"heartbeat_interval\":1000}");
      assertEquals("response _heartbeat_", s.read(WAIT).toString());
      // Nothing sent for two heartbeat intervals: nsqd's read deadline closes the connection. The
      // second heartbeat and the deadline fall due together, so that heartbeat may or may not come.
      NsqSocket.Frame last = s.lastFrameBeforeClose(WAIT);
      assertTrue(last == null || last.toString().equals("response _heartbeat_"), String.valueOf(last));
      assertTrue(System.nanoTime() - identified >= Duration.ofMillis(2000).toNanos(), "not closed before 2 intervals");
    }
    try (NsqSocket s = new NsqSocket(port())) {
      s.identify("{\"heartbeat_interval\":1000}");
      for (int i = 0; i < 4; i++) {
        assertEquals("response _heartbeat_", s.read(WAIT).toString());
        s.send("NOP");
      }
      s.send("PUB " + unique("tcp-hb"), "alive");
      assertOk(s.next(WAIT));
    }
  }

  @Test
  void aBrokenClientHurtsNoOther() throws Exception {
    String topic = unique("tcp-isolation");
    try (NsqSocket good = NsqSocket.subscribe(port(), topic, "ch", 10); NsqSocket pub = new NsqSocket(port())) {
      try (NsqSocket bad = new NsqSocket(port())) {
        bad.write(new byte[16 * 1024 + 10]); // past nsqd's 16 KiB command line buffer, no newline
        assertFatal(bad, "E_INVALID command line too long");
      }
      try (NsqSocket bad = new NsqSocket(port())) {
        bad.send("NOP" + " ".repeat(16 * 1024 - 3)); // 16 KiB + 1 with its newline: nsqd closes
        assertFatal(bad, "E_INVALID command line too long");
      }
      try (NsqSocket bad = new NsqSocket(port())) {
        bad.send("MPUB " + topic, new byte[] {0, 0, 0, 2, 0, 0, 0, 1, 'x'});
        assertFatal(bad, "E_BAD_MESSAGE MPUB failed to read message(1) body size");
      }
      pub.send("PUB " + topic, "fine");
      assertOk(pub.next(WAIT));
      assertEquals("fine", good.next(WAIT).body());
    }
  }

  @Test
  void aDeletedChannelClosesItsConsumersWithoutAWord() throws Exception {
    // nsqd closes a deleted channel's (or topic's) clients without an error frame; nsqjs would
    // raise any error frame as an 'error' event on its Reader, fatal to an app without a listener.
    for (String op : new String[] {"/channel/delete?topic=%s&channel=ch", "/topic/delete?topic=%s"}) {
      String topic = unique("tcp-deleted");
      try (NsqSocket pub = new NsqSocket(port()); NsqSocket sub = NsqSocket.subscribe(port(), topic, "ch", 1)) {
        pub.send("PUB " + topic, "held");
        assertOk(pub.next(WAIT));
        assertEquals("held", sub.next(WAIT).body());
        assertEquals(200, http.post(String.format(op, topic), "").status());
        assertNull(sub.lastFrameBeforeClose(WAIT), op + ": closed with no frame");
      }
    }
  }

  @Test
  void aClosedConnectionGivesItsMessagesBack() throws Exception {
    String topic = unique("tcp-gone");
    try (NsqSocket pub = new NsqSocket(port())) {
      NsqSocket first = NsqSocket.subscribe(port(), topic, "ch", 1);
      pub.send("PUB " + topic, "held");
      assertOk(pub.next(WAIT));
      NsqSocket.Frame m = first.next(WAIT);
      first.close();
      try (NsqSocket second = NsqSocket.subscribe(port(), topic, "ch", 1)) {
        NsqSocket.Frame again = second.next(WAIT);
        assertEquals(m.id(), again.id());
        assertEquals(2, again.attempts());
      }
    }
  }

  @Test
  void tcpAndWebSocketConsumersShareAChannel() throws Exception {
    String topic = unique("tcp-ws");
    http.createChannel(topic, "shared");
    try (NsqSocket tcp = NsqSocket.subscribe(port(), topic, "shared", 5);
         WsConsumer ws = WsConsumer.subscribe(node, "topic=" + topic + "&channel=shared")) {
      ws.send("RDY 5");
      try (NsqSocket pub = new NsqSocket(port())) {
        String[] bodies = new String[40];
        for (int i = 0; i < bodies.length; i++) bodies[i] = "m" + i;
        pub.send("MPUB " + topic, NsqSocket.mpubBody(bodies));
        assertOk(pub.next(WAIT));
      }
      List<String> viaTcp = new ArrayList<>();
      List<String> viaWs = new ArrayList<>();
      Await.until(WAIT, "all 40 messages over both doors", () -> {
        try {
          NsqSocket.Frame f = tcp.next(Duration.ofMillis(200));
          viaTcp.add(f.body());
          tcp.send("FIN " + f.id());
        } catch (AssertionError none) {
          // nothing on TCP right now
        }
        WsConsumer.Frame w = ws.poll(Duration.ofMillis(200));
        if (w != null && w.type().equals("message")) {
          viaWs.add(w.json().path("body").asText());
          ws.send("FIN " + w.json().path("id").asText());
        }
        return viaTcp.size() + viaWs.size() >= 40;
      });
      Set<String> all = new HashSet<>(viaTcp);
      all.addAll(viaWs);
      assertEquals(40, all.size());
      assertEquals(40, viaTcp.size() + viaWs.size(), "each message once");
      assertFalse(viaTcp.isEmpty(), "the TCP consumer got some");
      assertFalse(viaWs.isEmpty(), "the WebSocket consumer got some");
    }
  }
}
