package herald.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A real Herald node in its own JVM, started from the test class path, killable with SIGKILL. */
public final class NodeProcess implements AutoCloseable {
  private final Path dataPath;
  private final List<String> extraFlags;
  private final Map<String, String> environment = new HashMap<>();
  private final List<String> jvmOptions = new ArrayList<>();
  /** 0 until the first start has bound one; a restarted node keeps its ports. */
  private int httpPort;
  private int tcpPort;
  private int httpsPort;
  private String clusterAddress;
  private Process process;
  private Path log;

  private NodeProcess(Path dataPath, List<String> extraFlags) {
    this.dataPath = dataPath;
    this.extraFlags = extraFlags;
  }

  /** The node prints the ports it bound (it was given port 0) in its start-up line. */
  private static final Pattern LISTENING = Pattern.compile(
      "listening on http://[^ ]*:(\\d+)(?: tcp://[^ ]*:(\\d+))?(?: and https://[^ ]*:(\\d+))?[^(]* \\(cluster pekko://herald@([^,]+),");

  public static NodeProcess start(Path dataPath, String... extraFlags) throws Exception {
    NodeProcess node = prepare(dataPath, extraFlags);
    node.launch();
    return node;
  }

  /** A node not started yet: spawn() then awaitReady(), or launch(). The OS picks its ports. */
  public static NodeProcess prepare(Path dataPath, String... extraFlags) throws IOException {
    return new NodeProcess(dataPath, List.of(extraFlags));
  }

  /** Adds an option of the node's JVM, such as -Dsome.config.path=value for a setting with no flag. */
  public NodeProcess withJvmOption(String option) {
    jvmOptions.add(option);
    return this;
  }

  /** Sets an environment variable of the node's process (for secrets, which are not flags). */
  public NodeProcess withEnv(String name, String value) {
    environment.put(name, value);
    return this;
  }

  /**
   * A port that was free a moment ago. Racy (another process may take it before it is used): do
   * not use it for a node's listeners, which bind port 0 and report what they got.
   */
  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /**
   * A port held by a bound socket that never listens, until closed: connecting to it is refused,
   * and no other process can take the port meanwhile (unlike a port found free and let go).
   */
  public static Socket refusingPort() throws IOException {
    Socket s = new Socket();
    s.bind(new InetSocketAddress("127.0.0.1", 0));
    return s;
  }

  /** Starts the process and waits until /ping answers; a node that never gets ready is killed. */
  public void launch() throws Exception {
    spawn();
    try {
      awaitReady();
    } catch (Exception | AssertionError e) {
      process.destroyForcibly();
      throw e;
    }
  }

  /** Nodes still running when the test JVM exits (a failed or timed-out test) die with it. */
  private static final java.util.Set<Process> LIVE = java.util.concurrent.ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Process::destroyForcibly)));
  }

  public void spawn() throws IOException {
    List<String> cmd = new ArrayList<>(command(
        "--http-address", "127.0.0.1:" + httpPort,
        "--tcp-address", "127.0.0.1:" + tcpPort,
        "--data-path", dataPath.toString()));
    cmd.addAll(extraFlags);
    cmd.addAll(1, jvmOptions);
    Files.createDirectories(dataPath);
    log = Files.createTempFile("herald-node-", ".log");
    ProcessBuilder builder = new ProcessBuilder(cmd);
    builder.environment().putAll(environment);
    process = builder.redirectErrorStream(true).redirectOutput(log.toFile()).start();
    LIVE.add(process);
    process.onExit().thenAccept(LIVE::remove);
  }

  public void awaitReady() throws Exception {
    // A deadline, not a wait: with other builds on this machine a start has taken over a minute.
    try {
      Await.until(Duration.ofSeconds(120), "node prints its ports and answers /ping", () -> {
        if (!process.isAlive()) throw new IllegalStateException("node exited: " + logTail());
        if (!readPorts()) return false;
        try {
          return http().get("/ping").status() == 200;
        } catch (IOException e) {
          return false;
        }
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; log:\n" + logTail(), e);
    }
  }

  private boolean readPorts() throws IOException {
    Matcher m = LISTENING.matcher(Files.readString(log));
    if (!m.find()) return false;
    httpPort = Integer.parseInt(m.group(1));
    if (m.group(2) != null) tcpPort = Integer.parseInt(m.group(2));
    if (m.group(3) != null) httpsPort = Integer.parseInt(m.group(3));
    clusterAddress = m.group(4);
    return true;
  }

  /** java (flags, this test's class path: NodeJvm) herald.node.Main args... */
  public static List<String> command(String... args) {
    List<String> cmd = new ArrayList<>(NodeJvm.command());
    cmd.add("herald.node.Main");
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** The address other nodes and /stats use for this node's HTTP API. */
  public String httpAddress() {
    return "127.0.0.1:" + httpPort;
  }

  /** HOST:PORT of its cluster transport, for --join (known once the node has started). */
  public String clusterAddress() {
    return clusterAddress;
  }

  /** The port --https-address bound (give it port 0), known once the node has started; 0 without one. */
  public int httpsPort() {
    return httpsPort;
  }

  /** The NSQ TCP listener's port (known once the node has started). */
  public int tcpPort() {
    return tcpPort;
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

  /**
   * SIGKILL once what a channel did at {@code sinceNanos} (System.nanoTime: a FIN, a REQ, a
   * delivery) is written: the promise is about time, progress is written at most 1 s late.
   */
  public void killOnceWritten(long sinceNanos, String what) throws Exception {
    Await.until(Duration.ofSeconds(5), "1.2 s since " + what, () -> System.nanoTime() - sinceNanos > 1_200_000_000L);
    kill();
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
