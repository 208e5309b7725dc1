package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * nsqjs against a three-node cluster on PostgreSQL: it publishes to one node and consumes from a
 * node that does not host the topic, changing nothing but the address.
 */
class NsqjsClusterTest {

  @Test
  void nsqjsWorksAgainstAClusterWithTheConsumerAwayFromTheTopic() throws Exception {
    Path data = Files.createTempDirectory("herald-nsqjs-cluster-");
    List<NodeProcess> nodes = new ArrayList<>();
    try (PostgresServer pg = PostgresServer.start()) {
      try {
        List<String> first = new ArrayList<>(List.of(pg.nodeFlags()));
        first.addAll(List.of("--cluster-address", "127.0.0.1:0"));
        nodes.add(NodeProcess.start(data.resolve("node1"), first.toArray(String[]::new)));
        for (int i = 2; i <= 3; i++) {
          List<String> flags = new ArrayList<>(List.of(pg.nodeFlags()));
          flags.addAll(List.of("--cluster-address", "127.0.0.1:0", "--join", nodes.get(0).clusterAddress()));
          nodes.add(NodeProcess.prepare(data.resolve("node" + i), flags.toArray(String[]::new)));
        }
        nodes.get(1).spawn();
        nodes.get(2).spawn();
        nodes.get(1).awaitReady();
        nodes.get(2).awaitReady();
        Await.until(Duration.ofSeconds(120), "three members up", () -> ClusterTest.upMembers(nodes.get(0)) == 3);
        String topic = "nsqjs-cluster";
        nodes.get(0).http().createChannel(topic, "js");
        String host = Await.value(Duration.ofSeconds(60), "the topic's host in /stats", () -> {
          for (JsonNode t : nodes.get(0).http().get("/stats?format=json&topic=" + topic).json().path("topics")) {
            if (t.path("running").asBoolean()) return t.path("node").asText();
          }
          return null;
        });
        List<NodeProcess> away = new ArrayList<>();
        for (NodeProcess n : nodes) if (!n.httpAddress().equals(host)) away.add(n);
        NodeProcess publisher = away.get(0);
        NodeProcess consumer = away.get(1);
        assertNotEquals(host, consumer.httpAddress());
        JsonNode result = Nsqjs.run("roundtrip", "127.0.0.1:" + publisher.tcpPort(), "127.0.0.1:" + consumer.tcpPort(), topic);
        NsqjsTest.assertRoundtrip(result);
      } finally {
        for (NodeProcess n : nodes) n.close();
      }
    }
  }
}
