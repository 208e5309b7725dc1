package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The WebSocket consumer protocol against a real node. */
class ConsumerTest extends SharedNode {
  private static final Duration WAIT = Duration.ofSeconds(15);

  @BeforeAll
  static void start() throws Exception {
    startNode("--msg-timeout", "60s", "--max-req-timeout", "1h");
  }

  static void publish(String topic, String... bodies) throws Exception {
    for (String b : bodies) assertEquals(200, http.post("/pub?topic=" + topic, b).status());
  }

  @Test
  void deliversPublishedMessagesAndFinRemovesThem() throws Exception {
    String topic = unique("basic");
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch")) {
      publish(topic, "one", "two");
      c.send("RDY 10");
      List<WsConsumer.Frame> got = c.messages(2, WAIT);
      Set<String> bodies = new HashSet<>();
      for (WsConsumer.Frame f : got) {
        bodies.add(f.json().path("body").asText());
        assertEquals(16, f.json().path("id").asText().length());
        assertEquals(1, f.json().path("attempts").asInt());
        assertTrue(f.json().path("timestamp").asLong() > 1_600_000_000_000L);
        c.send("FIN " + f.json().path("id").asText());
      }
      assertEquals(Set.of("one", "two"), bodies);
      Await.until(WAIT, "FINs applied", () -> {
        JsonNode ch = http.channelStats(topic, "ch");
        return ch.path("in_flight_count").asInt() == 0 && ch.path("depth").asInt() == 0;
      });
    }
  }

  @Test
  void oneFrameCanFinManyMessages() throws Exception {
    String topic = unique("batchfin");
    publish(topic, "a", "b", "c");
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch")) {
      c.send("RDY 10");
      StringBuilder fins = new StringBuilder();
      for (WsConsumer.Frame f : c.messages(3, WAIT)) fins.append("FIN ").append(f.json().path("id").asText()).append('\n');
      c.send(fins.toString());
      Await.until(WAIT, "all three FINed by one frame", () -> {
        JsonNode ch = http.channelStats(topic, "ch");
        return ch.path("in_flight_count").asInt() == 0 && ch.path("clients").get(0).path("finish_count").asInt() == 3;
      });
      c.send("NOP\nBOGUS");
      assertEquals("E_INVALID", c.next(WAIT).json().path("code").asText(), "a bad line fails the whole connection");
    }
  }

  @Test
  void rdyLimitsMessagesInFlight() throws Exception {
    String topic = unique("rdy");
    publish(topic, "a", "b", "c", "d", "e");
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch")) {
      c.send("RDY 2");
      List<WsConsumer.Frame> first = c.messages(2, WAIT);
      assertNull(c.poll(Duration.ofMillis(500)), "no third message while two are in flight with RDY 2");
      c.send("FIN " + first.get(0).json().path("id").asText());
      assertNotNull(c.messages(1, WAIT));
      JsonNode ch = http.channelStats(topic, "ch");
      assertEquals(2, ch.path("in_flight_count").asInt());
      assertEquals(2, ch.path("depth").asInt());
    }
  }

  @Test
  void topicWithoutChannelKeepsMessagesForItsFirstChannel() throws Exception {
    String topic = unique("backlog");
    publish(topic, "early1", "early2");
    assertEquals(2, http.stats(topic, null).path("topics").get(0).path("depth").asInt());
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=first")) {
      c.send("RDY 5");
      Set<String> bodies = new HashSet<>();
      for (WsConsumer.Frame f : c.messages(2, WAIT)) bodies.add(f.json().path("body").asText());
      assertEquals(Set.of("early1", "early2"), bodies);
    }
  }

  @Test
  void everyChannelGetsEveryMessageAndALaterChannelOnlyLaterOnes() throws Exception {
    String topic = unique("fanout");
    http.createChannel(topic, "a");
    assertEquals(200, http.post("/channel/create?topic=" + topic + "&channel=b", "").status());
    publish(topic, "m1");
    assertEquals(200, http.post("/channel/create?topic=" + topic + "&channel=late", "").status());
    publish(topic, "m2");
    for (String ch : List.of("a", "b")) {
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=" + ch)) {
        c.send("RDY 10");
        Set<String> bodies = new HashSet<>();
        for (WsConsumer.Frame f : c.messages(2, WAIT)) bodies.add(f.json().path("body").asText());
        assertEquals(Set.of("m1", "m2"), bodies, "channel " + ch);
      }
    }
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=late")) {
      c.send("RDY 10");
      assertEquals("m2", c.messages(1, WAIT).get(0).json().path("body").asText());
      assertNull(c.poll(Duration.ofMillis(500)), "a channel created later does not see m1");
    }
  }

  @Test
  void consumersOnOneChannelShareItsMessages() throws Exception {
    String topic = unique("share");
    try (WsConsumer a = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch");
         WsConsumer b = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch")) {
      a.send("RDY 100");
      b.send("RDY 100");
      Await.until(WAIT, "both consumers ready", () -> {
        JsonNode ch = http.channelStats(topic, "ch");
        return ch != null && ch.path("client_count").asInt() == 2
            && ch.path("clients").get(0).path("ready_count").asInt() == 100
            && ch.path("clients").get(1).path("ready_count").asInt() == 100;
      });
      StringBuilder body = new StringBuilder();
      for (int i = 0; i < 20; i++) body.append("msg").append(i).append('\n');
      assertEquals(200, http.post("/mpub?topic=" + topic, body.toString()).status());
      Set<String> seen = new HashSet<>();
      int fromA = 0;
      int fromB = 0;
      while (seen.size() < 20) {
        WsConsumer.Frame f = a.poll(Duration.ofMillis(50));
        if (f != null) {
          fromA++;
          assertTrue(seen.add(f.json().path("body").asText()));
        }
        f = b.poll(Duration.ofMillis(50));
        if (f != null) {
          fromB++;
          assertTrue(seen.add(f.json().path("body").asText()));
        }
      }
      assertEquals(20, fromA + fromB);
      assertTrue(fromA > 0 && fromB > 0, "both consumers got work: " + fromA + "/" + fromB);
    }
  }

  @Test
  void reqRedeliversWithMoreAttemptsAndReqWithDelayDefers() throws Exception {
    String topic = unique("req");
    publish(topic, "again", "later");
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch")) {
      c.send("RDY 10");
      for (WsConsumer.Frame f : c.messages(2, WAIT)) {
        String id = f.json().path("id").asText();
        if (f.json().path("body").asText().equals("again")) c.send("REQ " + id + " 0");
        else c.send("REQ " + id + " 3600000");
      }
      WsConsumer.Frame again = c.messages(1, WAIT).get(0);
      assertEquals("again", again.json().path("body").asText());
      assertEquals(2, again.json().path("attempts").asInt());
      Await.until(WAIT, "one deferred", () -> {
        JsonNode ch = http.channelStats(topic, "ch");
        return ch.path("deferred_count").asInt() == 1 && ch.path("requeue_count").asInt() == 2;
      });
    }
  }

  @Test
  void msgTimeoutRequeuesAndTouchExtends() throws Exception {
    String topic = unique("timeout");
    publish(topic, "slow");
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch&msg_timeout=1000")) {
      c.send("RDY 1");
      WsConsumer.Frame first = c.messages(1, WAIT).get(0);
      assertEquals(1, first.json().path("attempts").asInt());
      WsConsumer.Frame second = c.messages(1, WAIT).get(0);
      assertEquals(first.json().path("id").asText(), second.json().path("id").asText());
      assertEquals(2, second.json().path("attempts").asInt());
      assertTrue(http.channelStats(topic, "ch").path("timeout_count").asInt() >= 1);
      assertTrue(http.channelStats(topic, "ch").path("clients").get(0).path("timeout_count").asInt() >= 1,
          "the consumer's own timed-out count");
      // TOUCH keeps it: for 2.5 s (2.5 timeouts) it is never redelivered.
      long until = System.currentTimeMillis() + 2500;
      while (System.currentTimeMillis() < until) {
        c.send("TOUCH " + second.json().path("id").asText());
        assertNull(c.poll(Duration.ofMillis(300)), "a touched message is not redelivered");
      }
      c.send("FIN " + second.json().path("id").asText());
    }
  }

  @Test
  void finOfUnknownIdIsNonFatal() throws Exception {
    String topic = unique("finfail");
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch")) {
      c.send("FIN 00000000000003e7");
      WsConsumer.Frame err = c.next(WAIT);
      assertEquals("error", err.type());
      assertEquals("E_FIN_FAILED", err.json().path("code").asText());
      c.send("REQ 00000000000003e7 0");
      assertEquals("E_REQ_FAILED", c.next(WAIT).json().path("code").asText());
      c.send("TOUCH 00000000000003e7");
      assertEquals("E_TOUCH_FAILED", c.next(WAIT).json().path("code").asText());
      publish(topic, "still works");
      c.send("RDY 1");
      assertEquals("still works", c.messages(1, WAIT).get(0).json().path("body").asText());
      assertFalse(c.isClosed());
    }
  }

  @Test
  void invalidFramesCloseOnlyTheirOwnConnection() throws Exception {
    String topic = unique("invalid");
    for (String bad : List.of("RDY 999999", "HELLO", "FIN nothex", "RDY", "REQ 0000000000000001 soon")) {
      try (WsConsumer other = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch");
           WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch")) {
        c.send(bad);
        WsConsumer.Frame err = c.next(WAIT);
        assertEquals("E_INVALID", err.json().path("code").asText(), bad);
        c.closed().get(15, java.util.concurrent.TimeUnit.SECONDS);
        publish(topic, "after " + bad);
        other.send("RDY 1");
        WsConsumer.Frame m = other.messages(1, WAIT).get(0);
        assertEquals("after " + bad, m.json().path("body").asText());
        other.send("FIN " + m.json().path("id").asText());
      }
    }
  }

  @Test
  void disconnectReturnsInFlightMessages() throws Exception {
    String topic = unique("disconnect");
    publish(topic, "held");
    WsConsumer first = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch");
    first.send("RDY 1");
    first.messages(1, WAIT);
    first.close();
    try (WsConsumer second = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch")) {
      second.send("RDY 1");
      WsConsumer.Frame again = second.messages(1, WAIT).get(0);
      assertEquals("held", again.json().path("body").asText());
      assertEquals(2, again.json().path("attempts").asInt());
    }
  }

  @Test
  void binaryFormatUsesNsqsLayoutAndJsonFallsBackToBase64() throws Exception {
    String topic = unique("binary");
    byte[] notUtf8 = {(byte) 0xff, (byte) 0xfe, 0x00, 0x41};
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=bin&format=binary");
         WsConsumer j = WsConsumer.subscribe(node, "topic=" + topic + "&channel=json")) {
      assertEquals(200, http.post("/pub?topic=" + topic, "text body").status());
      c.send("RDY 1");
      WsConsumer.Frame f = c.messages(1, WAIT).get(0);
      ByteBuffer buf = ByteBuffer.wrap(f.binary());
      long ns = buf.getLong();
      assertTrue(Math.abs(ns / 1_000_000 - System.currentTimeMillis()) < 60_000, "ns timestamp near now");
      assertEquals(1, buf.getShort());
      byte[] id = new byte[16];
      buf.get(id);
      byte[] body = new byte[buf.remaining()];
      buf.get(body);
      assertEquals("text body", new String(body, StandardCharsets.UTF_8));
      c.send("FIN " + new String(id, StandardCharsets.US_ASCII));

      j.send("RDY 1");
      assertEquals("text body", j.messages(1, WAIT).get(0).json().path("body").asText());
    }
    String topic2 = unique("base64");
    assertEquals(200, http.post("/pub?topic=" + topic2, notUtf8).status());
    try (WsConsumer j = WsConsumer.subscribe(node, "topic=" + topic2 + "&channel=json")) {
      j.send("RDY 1");
      JsonNode m = j.messages(1, WAIT).get(0).json();
      assertTrue(m.path("body").isMissingNode());
      assertEquals(java.util.Base64.getEncoder().encodeToString(notUtf8), m.path("body_base64").asText());
    }
  }

  @Test
  void binaryMessagesAreNsqFramesAndOneFrameOfFinsFinishesThemAll() throws Exception {
    String topic = unique("binframes");
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch&format=binary")) {
      StringBuilder body = new StringBuilder();
      for (int i = 0; i < 50; i++) body.append(i == 0 ? "" : "\n").append("m").append(i);
      assertEquals(200, http.post("/mpub?topic=" + topic, body.toString()).status());
      c.send("RDY 50");
      // WsConsumer splits each binary message into its NSQ frames and fails on a malformed one.
      List<WsConsumer.Frame> got = c.messages(50, WAIT);
      StringBuilder fins = new StringBuilder();
      Set<String> bodies = new HashSet<>();
      for (WsConsumer.Frame f : got) {
        byte[] m = f.binary();
        bodies.add(new String(m, 26, m.length - 26, StandardCharsets.UTF_8));
        fins.append("FIN ").append(new String(m, 10, 16, StandardCharsets.US_ASCII)).append('\n');
      }
      assertEquals(50, bodies.size());
      assertTrue(bodies.contains("m0") && bodies.contains("m49"), bodies.toString());
      c.send(fins.toString());
      Await.until(WAIT, "50 FINs applied", () -> {
        JsonNode ch = http.channelStats(topic, "ch");
        return ch.path("in_flight_count").asInt() == 0 && ch.path("clients").get(0).path("finish_count").asInt() == 50;
      });
      assertNull(c.poll(Duration.ofMillis(200)), "no error after the FINs");
    }
  }

  @Test
  void clsStopsDeliveryWithCloseWait() throws Exception {
    String topic = unique("cls");
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch")) {
      c.send("RDY 5");
      c.send("CLS");
      assertEquals("close_wait", c.next(WAIT).type());
      publish(topic, "not for you");
      assertNull(c.poll(Duration.ofMillis(500)));
    }
  }

  @Test
  void pausedChannelDeliversNothingUntilUnpaused() throws Exception {
    String topic = unique("pause");
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch")) {
      assertEquals(200, http.post("/channel/pause?topic=" + topic + "&channel=ch", "").status());
      c.send("RDY 5");
      publish(topic, "waiting");
      assertNull(c.poll(Duration.ofMillis(500)));
      assertTrue(http.channelStats(topic, "ch").path("paused").asBoolean());
      assertEquals(200, http.post("/channel/unpause?topic=" + topic + "&channel=ch", "").status());
      assertEquals("waiting", c.messages(1, WAIT).get(0).json().path("body").asText());
    }
  }

  @Test
  void pausedTopicDeliversNothingUntilUnpaused() throws Exception {
    String topic = unique("tpause");
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch")) {
      assertEquals(200, http.post("/topic/pause?topic=" + topic, "").status());
      c.send("RDY 5");
      publish(topic, "waiting");
      assertNull(c.poll(Duration.ofMillis(500)));
      assertTrue(http.stats(topic, null).path("topics").get(0).path("paused").asBoolean());
      assertEquals(200, http.post("/topic/unpause?topic=" + topic, "").status());
      assertEquals("waiting", c.messages(1, WAIT).get(0).json().path("body").asText());
    }
  }

  @Test
  void emptyChannelDropsItsBacklogAndDeleteClosesConsumers() throws Exception {
    String topic = unique("empty");
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=ch")) {
      publish(topic, "x", "y", "z");
      Await.until(WAIT, "depth 3", () -> http.channelStats(topic, "ch").path("depth").asInt() == 3);
      assertEquals(200, http.post("/channel/empty?topic=" + topic + "&channel=ch", "").status());
      assertEquals(0, http.channelStats(topic, "ch").path("depth").asInt());
      c.send("RDY 5");
      assertNull(c.poll(Duration.ofMillis(500)), "nothing left after empty");
      publish(topic, "after");
      assertEquals("after", c.messages(1, WAIT).get(0).json().path("body").asText());
      assertEquals(200, http.post("/channel/delete?topic=" + topic + "&channel=ch", "").status());
      WsConsumer.Frame gone = c.await(f -> f.type().equals("error"), WAIT);
      assertEquals("E_CHANNEL_GONE", gone.json().path("code").asText(), gone.json().toString());
      c.closed().get(15, java.util.concurrent.TimeUnit.SECONDS);
      assertNull(http.channelStats(topic, "ch"));
    }
  }

  @Test
  void ephemeralChannelAndTopicVanishWithTheirLastConsumer() throws Exception {
    String topic = unique("eph") + "#ephemeral";
    String encoded = topic.replace("#", "%23");
    WsConsumer c = WsConsumer.subscribe(node, "topic=" + encoded + "&channel=tmp%23ephemeral");
    c.send("RDY 5");
    assertEquals(200, http.post("/pub?topic=" + encoded, "fleeting").status());
    assertEquals("fleeting", c.messages(1, WAIT).get(0).json().path("body").asText());
    assertEquals(1, http.get("/stats?format=json&topic=" + encoded).json().path("topics").size());
    c.close();
    Await.until(WAIT, "ephemeral topic gone", () ->
        http.get("/stats?format=json&topic=" + encoded).json().path("topics").size() == 0);
  }

  @Test
  void badSubscriptionsGet400BeforeTheUpgrade() throws Exception {
    assertEquals("MISSING_ARG_TOPIC", http.get("/sub?channel=c").code());
    assertEquals("INVALID_TOPIC", http.get("/sub?topic=a*b&channel=c").code());
    assertEquals("MISSING_ARG_CHANNEL", http.get("/sub?topic=t").code());
    assertEquals("INVALID_CHANNEL", http.get("/sub?topic=t&channel=" + "c".repeat(65)).code());
    assertEquals("INVALID_MSG_TIMEOUT", http.get("/sub?topic=t&channel=c&msg_timeout=abc").code());
    assertEquals("INVALID_MSG_TIMEOUT", http.get("/sub?topic=t&channel=c&msg_timeout=99999999999").code());
    assertEquals("INVALID_FORMAT", http.get("/sub?topic=t&channel=c&format=xml").code());
    assertEquals(400, http.get("/sub?topic=t&channel=c").status(), "not a WebSocket request");
  }
}
