package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Runs src/test/nsqjs/driver.js: nsqjs 0.13 from npm, a real NSQ client, against real nodes. Its
 * modules are installed with {@code npm ci} from the committed package-lock.json when missing.
 */
final class Nsqjs implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final Path DIR = Path.of("src", "test", "nsqjs").toAbsolutePath();

  private final Process process;
  private final List<JsonNode> lines = new CopyOnWriteArrayList<>();
  private final StringBuilder stderr = new StringBuilder();
  private final Thread reader;

  private Nsqjs(String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("node", "driver.js"));
    cmd.addAll(List.of(args));
    process = new ProcessBuilder(cmd).directory(DIR.toFile()).start();
    reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = r.readLine(); line != null; line = r.readLine()) lines.add(JSON.readTree(line));
      } catch (IOException e) {
        // the process ended
      }
    });
    reader.start();
    Thread err = new Thread(() -> {
      try {
        String text = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        synchronized (stderr) {
          stderr.append(text);
        }
      } catch (IOException ignored) {
        // the process ended
      }
    });
    err.start();
  }

  static synchronized void install() throws Exception {
    if (Files.isDirectory(DIR.resolve("node_modules").resolve("nsqjs"))) return;
    Process npm = new ProcessBuilder("npm", "ci", "--no-audit", "--no-fund").directory(DIR.toFile())
        .redirectErrorStream(true).start();
    String out = new String(npm.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!npm.waitFor(5, TimeUnit.MINUTES) || npm.exitValue() != 0) throw new AssertionError("npm ci failed:\n" + out);
  }

  static Nsqjs start(String... args) throws Exception {
    install();
    return new Nsqjs(args);
  }

  /** Runs a scenario to its end; its result line. */
  static JsonNode run(String... args) throws Exception {
    try (Nsqjs n = start(args)) {
      return n.result(java.time.Duration.ofMinutes(3));
    }
  }

  List<JsonNode> lines() {
    return lines;
  }

  /** The {"result": ...} line, once the driver has exited. */
  JsonNode result(java.time.Duration timeout) throws Exception {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("nsqjs driver did not end; stdout " + lines + "; stderr " + stderr());
    }
    reader.join(10_000);
    for (JsonNode l : lines) if (l.has("result")) return l.path("result");
    throw new AssertionError("nsqjs driver printed no result (exit " + process.exitValue() + "); stdout " + lines
        + "; stderr " + stderr());
  }

  String stderr() {
    synchronized (stderr) {
      return stderr.toString();
    }
  }

  @Override
  public void close() {
    if (process.isAlive()) process.destroyForcibly();
  }
}
