package herald.e2e;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The PostgreSQL journal reads a topic back in batches, like LevelDB's (whose Pekko query stage
 * never ended a read of 64k + 1 writes): a channel reads its topic with the jdbc read journal,
 * max-buffer-size writes per query, and a topic recovers with the jdbc journal, replayBatchSize
 * writes per query. Channels behind backlogs of one write less than a batch, a batch, one more, and
 * two batches and one from the topic's start, after a SIGKILL, deliver every message.
 */
class PostgresBacklogTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir
  Path data;

  @Test
  void backlogsAroundTheJournalsBatchSizesAreDeliveredAfterSigkill() throws Exception {
    Config libraries = ConfigFactory.load();
    int readBatch = libraries.getInt("jdbc-read-journal.max-buffer-size");
    int replayBatch = libraries.getInt("jdbc-journal.replayBatchSize");
    List<Integer> sizes = new ArrayList<>();
    for (int n : new int[] {readBatch, replayBatch}) sizes.addAll(List.of(n - 1, n, n + 1, 2 * n + 1));

    try (PostgresServer pg = PostgresServer.start()) {
      NodeProcess node = NodeProcess.start(data.resolve("node"), pg.nodeFlags());
      try {
        HttpClientHelper http = node.http();
        // Topics fill in parallel, each one request at a time: one journal write per message.
        ExecutorService publishers = Executors.newFixedThreadPool(sizes.size());
        List<Future<Integer>> published = new ArrayList<>();
        try {
          for (int writes : sizes) published.add(publishers.submit(() -> fill(pg, http, "backlog" + writes, writes)));
          for (int i = 0; i < sizes.size(); i++) published.get(i).get();
        } finally {
          publishers.shutdownNow();
        }
        node.kill();
        node.launch();
        for (int i = 0; i < sizes.size(); i++) {
          int writes = sizes.get(i);
          String topic = "backlog" + writes;
          int expected = published.get(i).get();
          try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=c")) {
            c.send("RDY " + expected);
            Set<String> sent = new HashSet<>();
            for (int m = 0; m < expected; m++) sent.add(topic + "-" + m);
            Set<String> got = new HashSet<>();
            for (WsConsumer.Frame f : c.messages(expected, WAIT)) got.add(f.json().path("body").asText());
            assertEquals(sent, got, "the messages of a topic of " + writes + " writes");
          }
        }
      } finally {
        node.close();
      }
    }
  }

  /**
   * Makes a topic with a channel (the channel reads from the topic's first write) and publishes
   * until the topic has {@code writes} journal writes, counted in its table; returns the messages published.
   */
  private static int fill(PostgresServer pg, HttpClientHelper http, String topic, int writes) throws Exception {
    http.createChannel(topic, "c");
    int messages = writes - writesOf(pg, topic);
    for (int i = 0; i < messages; i++) assertEquals(200, http.post("/pub?topic=" + topic, topic + "-" + i).status());
    assertEquals(writes, writesOf(pg, topic), "journal writes of " + topic);
    return messages;
  }

  private static int writesOf(PostgresServer pg, String topic) throws Exception {
    try (Connection c = DriverManager.getConnection(pg.url(), "herald", "");
         PreparedStatement s = c.prepareStatement("select count(*) from event_journal where persistence_id = ?")) {
      s.setString(1, "t|" + topic);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        return r.getInt(1);
      }
    }
  }
}
