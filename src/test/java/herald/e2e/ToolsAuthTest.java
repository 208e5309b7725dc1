package herald.e2e;

import herald.cli.Pub;
import herald.cli.Stat;
import herald.cli.Tail;
import herald.cli.ToFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static herald.e2e.ToolsTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * pub, tail, stat and to-file against a node with identities: they show the secret from
 * --secret-file or HERALD_SECRET, and without one each says in one line what the node asks for.
 */
@Timeout(60)
class ToolsAuthTest extends SharedNode {
  private static final String SECRET = "tools-secret";
  private static final String HINT = " (this node asks for a secret: --secret-file FILE or HERALD_SECRET)\n";
  private static Path dir;
  private static Path secretFile;

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory("herald-tools-auth-");
    Path auth = dir.resolve("auth.json");
    Files.writeString(auth, """
        {"identities": [{"identity": "tools", "secret": "%s",
          "authorizations": [{"topic": ".*", "permissions": ["publish", "subscribe", "stats"]}]}]}
        """.formatted(SECRET));
    secretFile = dir.resolve("secret");
    // With the newline `openssl rand -base64 32 > FILE` leaves.
    Files.writeString(secretFile, SECRET + "\n");
    startNode("--auth-file", auth.toString());
  }

  @AfterAll
  static void cleanUp() throws Exception {
    try (var all = Files.walk(dir)) {
      all.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }

  private static String http() {
    return node.httpAddress();
  }

  @Test
  void everyToolShowsTheSecretFromItsFile() throws Exception {
    String topic = unique("auth-tools");
    String secret = secretFile.toString();
    ToolsTest.Result pub = run(new Pub(), "one\ntwo\nthree\n", "--http", http(), "--topic", topic, "--secret-file", secret);
    assertEquals(0, pub.code(), pub::toString);
    assertEquals("published 3 messages to " + topic + "\n", pub.out(), pub::toString);

    ToolsTest.Result tail = run(new Tail(), null, "--http", http(), "--topic", topic, "--from", "earliest", "-n", "3",
        "--secret-file", secret);
    assertEquals(0, tail.code(), tail::toString);
    assertEquals("one\ntwo\nthree\n", tail.out(), tail::toString);

    ToolsTest.Result stat = run(new Stat(), null, "--http", http(), "--topic", topic, "--count", "1", "--secret-file", secret);
    assertEquals(0, stat.code(), stat::toString);
    String[] row = stat.out().lines().reduce((a, b) -> b).orElse("").trim().split("\\s+");
    assertEquals("3", row[6], () -> "messages: " + stat);

    Path out = dir.resolve(topic);
    ToolsTest.Result toFile = run(new ToFile(), null, "--http", http(), "--topic", topic, "--output-dir", out.toString(),
        "-n", "3", "--secret-file", secret);
    assertEquals(0, toFile.code(), toFile::toString);
    List<String> written = new ArrayList<>();
    try (var files = Files.list(out)) {
      for (Path f : files.toList()) written.addAll(Files.readAllLines(f));
    }
    assertEquals(List.of("one", "three", "two"), written.stream().sorted().toList());
  }

  @Test
  void theSecretFromTheEnvironment() throws Exception {
    String topic = unique("auth-env");
    ProcessBuilder pb = new ProcessBuilder(NodeProcess.command("pub", "--http", http(), "--topic", topic));
    pb.environment().put("HERALD_SECRET", SECRET);
    Process p = pb.redirectErrorStream(true).start();
    p.getOutputStream().write("a\nb\n".getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "pub exits at the end of its input");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), out);
    assertEquals("published 2 messages to " + topic + "\n", out);
  }

  @Test
  void withoutTheRightSecretEachToolSaysSoInOneLine() throws Exception {
    String topic = unique("auth-none");
    ToolsTest.Result pub = run(new Pub(), "x\n", "--http", http(), "--topic", topic);
    assertEquals(1, pub.code(), pub::toString);
    assertEquals("pub: GET /info answered HTTP 401 AUTH_REQUIRED" + HINT, pub.err(), pub::toString);
    ToolsTest.Result tail = run(new Tail(), null, "--http", http(), "--topic", topic, "-n", "1");
    assertEquals(1, tail.code(), tail::toString);
    assertEquals("tail: GET /sub refused: HTTP 401 AUTH_REQUIRED" + HINT, tail.err(), tail::toString);
    ToolsTest.Result stat = run(new Stat(), null, "--http", http(), "--topic", topic, "--count", "1");
    assertEquals(1, stat.code(), stat::toString);
    assertEquals("stat: GET /stats answered HTTP 401 AUTH_REQUIRED" + HINT, stat.err(), stat::toString);

    Path wrong = dir.resolve("wrong-secret");
    Files.writeString(wrong, "not-the-secret");
    ToolsTest.Result toFile = run(new ToFile(), null, "--http", http(), "--topic", topic, "--output-dir",
        dir.resolve("none").toString(), "--secret-file", wrong.toString());
    assertEquals(1, toFile.code(), toFile::toString);
    assertEquals("to-file: GET /sub refused: HTTP 401 AUTH_FAILED\n", toFile.err(), toFile::toString);

    ToolsTest.Result missing = run(new Pub(), "x\n", "--http", http(), "--topic", topic, "--secret-file", dir.resolve("nope").toString());
    assertEquals(2, missing.code(), missing::toString);
    assertTrue(missing.err().startsWith("--secret-file: cannot read " + dir.resolve("nope") + " (no such file or directory)\n"),
        missing::toString);
  }
}
