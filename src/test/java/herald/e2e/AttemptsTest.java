package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A message's delivery attempts are written with its channel's progress and keep counting after a SIGKILL. */
class AttemptsTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir
  Path data;

  @Test
  void attemptsContinueAfterASigkillRestart() throws Exception {
    NodeProcess node = NodeProcess.start(data.resolve("node"));
    try {
      HttpClientHelper http = node.http();
      http.createChannel("jobs", "workers");
      assertEquals(200, http.post("/pub?topic=jobs", "poison").status());
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=jobs&channel=workers")) {
        c.send("RDY 1");
        for (int attempt = 1; attempt <= 3; attempt++) {
          JsonNode m = c.messages(1, WAIT).get(0).json();
          assertEquals("poison", m.path("body").asText());
          assertEquals(attempt, m.path("attempts").asInt());
          if (attempt < 3) c.send("REQ " + m.path("id").asText() + " 0");
        }
        // Published while "poison" holds the only RDY: never delivered before the kill.
        assertEquals(200, http.post("/pub?topic=jobs", "fresh").status());
        Await.until(WAIT, "fresh waiting", () -> http.channelStats("jobs", "workers").path("depth").asInt() == 1);
      }
      // Attempts go with the progress.
      node.killOnceWritten(System.nanoTime(), "the third delivery");
      node.launch();

      Map<String, Integer> attempts = new HashMap<>();
      try (WsConsumer c = WsConsumer.subscribe(node, "topic=jobs&channel=workers")) {
        c.send("RDY 10");
        for (WsConsumer.Frame f : c.messages(2, WAIT)) {
          attempts.put(f.json().path("body").asText(), f.json().path("attempts").asInt());
          c.send("FIN " + f.json().path("id").asText());
        }
      }
      // The consumer that closed held "poison" at its third attempt: the next one is the fourth.
      assertEquals(Map.of("poison", 4, "fresh", 1), attempts);
    } finally {
      node.close();
    }
  }
}
