package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** nsqjs 0.13, an NSQ client from npm, publishing and consuming over TCP against a real node. */
class NsqjsTest {

  @Test
  void nsqjsPublishesAndConsumesWithEveryVerb() throws Exception {
    Path data = Files.createTempDirectory("herald-nsqjs-");
    try (NodeProcess node = NodeProcess.start(data)) {
      String address = "127.0.0.1:" + node.tcpPort();
      JsonNode result = Nsqjs.run("roundtrip", address, address, "nsqjs-roundtrip");
      assertRoundtrip(result);
    }
  }

  /** What the roundtrip scenario of driver.js must have seen, from any node pair. */
  static void assertRoundtrip(JsonNode result) {
    assertTrue(result.path("events").isArray(), result::toString);
    List<String> finished = new ArrayList<>();
    result.path("finished").forEach(f -> finished.add(f.asText()));
    assertEquals(List.of("dpub", "mpub-1", "mpub-2", "mpub-3", "mpub-4", "mpub-5", "pub-1", "pub-2", "pub-3", "pub-4", "pub-5"),
        finished, result::toString);
    JsonNode times = result.path("times");
    List<JsonNode> pub1 = deliveries(result, "pub-1");
    assertEquals(2, pub1.size(), "REQ'd once, then FINed: " + result);
    assertEquals(2, pub1.get(1).path("attempts").asInt(), result::toString);
    assertTrue(pub1.get(1).path("at").asLong() - times.path("requeuedAt").asLong() >= 1000, "REQ 1000 ms held it: " + result);
    List<JsonNode> pub2 = deliveries(result, "pub-2");
    assertEquals(1, pub2.size(), "TOUCHed past its 3 s msg_timeout, never redelivered: " + result);
    assertTrue(times.path("pub2FinishedAt").asLong() - times.path("pub2ReceivedAt").asLong() > 3000, result::toString);
    List<JsonNode> pub3 = deliveries(result, "pub-3");
    assertEquals(2, pub3.size(), "not answered: redelivered after msg_timeout: " + result);
    assertEquals(2, pub3.get(1).path("attempts").asInt(), result::toString);
    // The node's timeout runs from its delivery, which this client sees later (more so across
    // nodes); a redelivery before the publish started + msg_timeout would be early.
    assertTrue(pub3.get(1).path("at").asLong() - times.path("pub3PublishStartAt").asLong() >= 3000, result::toString);
    List<JsonNode> dpub = deliveries(result, "dpub");
    assertEquals(1, dpub.size(), result::toString);
    assertTrue(dpub.get(0).path("at").asLong() - times.path("dpubSentAt").asLong() >= 1500, "DPUB 1500 ms: " + result);
    // maxInFlight 3 is RDY 3: never more than 3 messages held at once (each is held 200 ms).
    assertTrue(result.path("maxHolding").asInt() <= 3 && result.path("maxHolding").asInt() >= 1, result::toString);
  }

  private static List<JsonNode> deliveries(JsonNode result, String body) {
    List<JsonNode> out = new ArrayList<>();
    for (JsonNode e : result.path("events")) if (e.path("body").asText().equals(body)) out.add(e);
    return out;
  }

  /**
   * An nsqjs publisher on the node's TCP port until {@code count} publishes are acknowledged, then
   * a SIGKILL of the node with publishes in flight (8 at a time); the bodies it acknowledged.
   */
  static List<String> publishUntilKilled(NodeProcess node, String topic, int count) throws Exception {
    List<String> acked = new ArrayList<>();
    try (Nsqjs publisher = Nsqjs.start("publish", "127.0.0.1:" + node.tcpPort(), topic)) {
      Await.until(Duration.ofSeconds(90), count + " publishes acknowledged over TCP",
          () -> publisher.lines().stream().filter(l -> l.has("acked") && l.path("acked").isTextual()).count() >= count);
      node.kill();
      publisher.result(Duration.ofSeconds(60));
      for (JsonNode l : publisher.lines()) if (l.path("acked").isTextual()) acked.add(l.path("acked").asText());
    }
    return acked;
  }

  @Test
  void everyAcknowledgedTcpPublishSurvivesSigkill() throws Exception {
    Path data = Files.createTempDirectory("herald-nsqjs-kill-");
    String topic = "nsqjs-kill";
    try (NodeProcess node = NodeProcess.start(data)) {
      node.http().createChannel(topic, "after");
      List<String> acked = publishUntilKilled(node, topic, 300);
      node.launch();
      Path wanted = Files.write(data.resolve("acked.txt"), acked);
      JsonNode drained = Nsqjs.run("drain", "127.0.0.1:" + node.tcpPort(), topic, "after", wanted.toString());
      assertEquals(0, drained.path("missing").size(), "every OK'd message delivered after the restart: " + drained);
      assertEquals(acked.size(), drained.path("wanted").asInt(), drained::toString);
      System.out.printf("nsqjs SIGKILL: %d publishes acknowledged before the kill, all delivered after restart (%d deliveries)%n",
          acked.size(), drained.path("received").asInt());
    }
  }
}
