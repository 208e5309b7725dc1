package herald.e2e;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A real Herald node in its own JVM, started from the test class path, killable with SIGKILL. */
public final class NodeProcess implements AutoCloseable {
  private final Path dataPath;
  private final List<String> extraFlags;
  private final Map<String, String> environment = new HashMap<>();
  private final int httpPort;
  private Process process;
  private Path log;

  private NodeProcess(Path dataPath, int httpPort, List<String> extraFlags) {
    this.dataPath = dataPath;
    this.httpPort = httpPort;
    this.extraFlags = extraFlags;
  }

  public static NodeProcess start(Path dataPath, String... extraFlags) throws Exception {
    NodeProcess node = prepare(dataPath, extraFlags);
    node.launch();
    return node;
  }

  /** A node with its own free HTTP port, not started yet: spawn() then awaitReady(), or launch(). */
  public static NodeProcess prepare(Path dataPath, String... extraFlags) throws IOException {
    return new NodeProcess(dataPath, freePort(), List.of(extraFlags));
  }

  /** Sets an environment variable of the node's process (for secrets, which are not flags). */
  public NodeProcess withEnv(String name, String value) {
    environment.put(name, value);
    return this;
  }

  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** Starts the process and waits until /ping answers. */
  public void launch() throws Exception {
    spawn();
    awaitReady();
  }

  public void spawn() throws IOException {
    List<String> cmd = new ArrayList<>(command(
        "--http-address", "127.0.0.1:" + httpPort,
        "--data-path", dataPath.toString()));
    cmd.addAll(extraFlags);
    Files.createDirectories(dataPath);
    log = Files.createTempFile("herald-node-", ".log");
    ProcessBuilder builder = new ProcessBuilder(cmd);
    builder.environment().putAll(environment);
    process = builder.redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  public void awaitReady() throws Exception {
    HttpClientHelper http = new HttpClientHelper(baseUrl());
    Await.until(Duration.ofSeconds(60), "node on port " + httpPort + " answers /ping; log:\n" + logTail(), () -> {
      if (!process.isAlive()) throw new IllegalStateException("node exited: " + logTail());
      try {
        return http.get("/ping").status() == 200;
      } catch (IOException e) {
        return false;
      }
    });
  }

  /** java -cp (this test's class path) herald.node.Main args... */
  public static List<String> command(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx512m");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("herald.node.Main");
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** The address other nodes and /stats use for this node's HTTP API. */
  public String httpAddress() {
    return "127.0.0.1:" + httpPort;
  }

  public boolean isAlive() {
    return process != null && process.isAlive();
  }

  public String baseUrl() {
    return "http://127.0.0.1:" + httpPort;
  }

  public String wsUrl() {
    return "ws://127.0.0.1:" + httpPort;
  }

  public HttpClientHelper http() {
    return new HttpClientHelper(baseUrl());
  }

  /** SIGKILL: no shutdown hook, no flush. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor();
  }

  /** Sends a signal by name (STOP, CONT) to the node's process. */
  public void signal(String name) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + name, String.valueOf(process.pid())).inheritIO().start();
    if (kill.waitFor() != 0) throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
  }

  /** SIGTERM: CoordinatedShutdown runs. Returns the exit code. */
  public int terminate() throws InterruptedException {
    process.destroy();
    return process.waitFor();
  }

  /** Everything the node printed so far. */
  public String log() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no log)";
    }
  }

  public String logTail() {
    try {
      String text = Files.readString(log);
      return text.length() > 4000 ? text.substring(text.length() - 4000) : text;
    } catch (IOException e) {
      return "(no log)";
    }
  }

  @Override
  public void close() throws InterruptedException {
    if (process != null && process.isAlive()) kill();
  }
}
