package herald.e2e;

import org.junit.jupiter.api.AfterAll;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/** One real node for a whole test class; each test uses its own topic names. */
abstract class SharedNode {
  private static final AtomicInteger names = new AtomicInteger();
  static NodeProcess node;
  static HttpClientHelper http;
  private static Path data;

  static void startNode(String... flags) throws Exception {
    data = Files.createTempDirectory("herald-e2e-");
    node = NodeProcess.start(data, flags);
    http = node.http();
  }

  @AfterAll
  static void stopNode() throws Exception {
    if (node != null) node.close();
    if (data != null) {
      try (var files = Files.walk(data)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  static String unique(String prefix) {
    return prefix + "-" + names.incrementAndGet();
  }
}
