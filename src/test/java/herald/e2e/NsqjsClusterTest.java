package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * nsqjs against a three-node cluster on PostgreSQL: it publishes to one node and consumes from a
 * node that does not host the topic, changing nothing but the address. Then the node that hosts a
 * topic and holds its publisher's TCP connection is SIGKILLed with publishes in flight: every
 * publish it acknowledged is delivered by a survivor.
 */
class NsqjsClusterTest {

  @Test
  void nsqjsWorksAgainstAClusterWithTheConsumerAwayFromTheTopic() throws Exception {
    Path data = Files.createTempDirectory("herald-nsqjs-cluster-");
    List<NodeProcess> nodes = new ArrayList<>();
    try (PostgresServer pg = PostgresServer.start()) {
      try {
        ClusterTest.startCluster(nodes, data, 3, i -> pg.nodeFlags());
        String topic = "nsqjs-cluster";
        nodes.get(0).http().createChannel(topic, "js");
        String host = hostOf(nodes.get(0), topic);
        List<NodeProcess> away = new ArrayList<>();
        for (NodeProcess n : nodes) if (!n.httpAddress().equals(host)) away.add(n);
        NodeProcess publisher = away.get(0);
        NodeProcess consumer = away.get(1);
        assertNotEquals(host, consumer.httpAddress());
        JsonNode result = Nsqjs.run("roundtrip", "127.0.0.1:" + publisher.tcpPort(), "127.0.0.1:" + consumer.tcpPort(), topic);
        NsqjsTest.assertRoundtrip(result);

        long killPhase = System.nanoTime();
        String killed = "nsqjs-cluster-kill";
        nodes.get(0).http().createChannel(killed, "after");
        NodeProcess victim = nodeByAddress(nodes, hostOf(nodes.get(0), killed));
        List<String> acked = NsqjsTest.publishUntilKilled(victim, killed, 300);
        long published = System.nanoTime();
        NodeProcess survivor = nodes.get(nodes.get(0) == victim ? 1 : 0);
        Path wanted = Files.write(data.resolve("acked.txt"), acked);
        JsonNode drained = Nsqjs.run("drain", "127.0.0.1:" + survivor.tcpPort(), killed, "after", wanted.toString());
        assertEquals(0, drained.path("missing").size(), "every OK'd message delivered by a survivor: " + drained);
        assertEquals(acked.size(), drained.path("wanted").asInt(), drained::toString);
        System.out.printf("nsqjs cluster SIGKILL: %d publishes acknowledged by the topic's node before the kill, all delivered"
            + " by a survivor; that part took %d s (publishing until the kill %d s, draining %d s)%n", acked.size(),
            (System.nanoTime() - killPhase) / 1_000_000_000, (published - killPhase) / 1_000_000_000,
            (System.nanoTime() - published) / 1_000_000_000);
      } finally {
        for (NodeProcess n : nodes) n.close();
      }
    }
  }

  /** The HTTP address of the node that runs the topic, as /stats says. */
  private static String hostOf(NodeProcess asked, String topic) throws Exception {
    return Await.value(Duration.ofSeconds(60), "the topic's host in /stats", () -> {
      for (JsonNode t : asked.http().get("/stats?format=json&topic=" + topic).json().path("topics")) {
        if (t.path("running").asBoolean()) return t.path("node").asText();
      }
      return null;
    });
  }

  private static NodeProcess nodeByAddress(List<NodeProcess> nodes, String httpAddress) {
    for (NodeProcess n : nodes) if (n.httpAddress().equals(httpAddress)) return n;
    throw new AssertionError("no node at " + httpAddress);
  }
}
