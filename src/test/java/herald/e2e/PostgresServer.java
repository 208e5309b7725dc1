package herald.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real PostgreSQL server from Debian's binaries, on a free loopback port with its own data
 * directory. PostgreSQL refuses to run as root, so as root every command runs as user nobody.
 */
public final class PostgresServer implements AutoCloseable {
  private final Path bin;
  private final Path dir;
  /** PostgreSQL cannot be told port 0: a port found free, and another if it was taken meanwhile. */
  private int port;
  private final boolean asNobody;

  private PostgresServer(Path bin, Path dir, int port, boolean asNobody) {
    this.bin = bin;
    this.dir = dir;
    this.port = port;
    this.asNobody = asNobody;
  }

  public static PostgresServer start() throws Exception {
    Path bin = findBin();
    Path dir = Files.createTempDirectory("herald-pg-");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    boolean root = "root".equals(System.getProperty("user.name"));
    if (root) {
      UserPrincipalLookupService users = dir.getFileSystem().getUserPrincipalLookupService();
      Files.setOwner(dir, users.lookupPrincipalByName("nobody"));
    }
    PostgresServer pg = new PostgresServer(bin, dir, NodeProcess.freePort(), root);
    pg.run("initdb", "-D", dir.resolve("data").toString(), "-U", "herald", "-A", "trust", "--no-sync", "-E", "UTF8");
    for (int attempt = 1; ; attempt++) {
      try {
        pg.startServer();
        break;
      } catch (IllegalStateException e) {
        Path log = dir.resolve("log");
        boolean taken = Files.exists(log) && Files.readString(log).contains("Address already in use");
        if (!taken || attempt == 3) throw e;
        pg.port = NodeProcess.freePort();
      }
    }
    pg.run("createdb", "-h", "127.0.0.1", "-p", String.valueOf(pg.port), "-U", "herald", "herald");
    return pg;
  }

  private void startServer() throws Exception {
    run("pg_ctl", "-D", dir.resolve("data").toString(), "-l", dir.resolve("log").toString(), "-w", "-t", "60",
        "-o", "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c max_connections=200", "start");
  }

  /** Stops the server as an outage would (fast: open transactions are cut); startAgain() brings it back. */
  public void stop() throws Exception {
    run("pg_ctl", "-D", dir.resolve("data").toString(), "-m", "fast", "-w", "stop");
  }

  public void startAgain() throws Exception {
    startServer();
  }

  private static Path findBin() throws IOException {
    Path base = Path.of("/usr/lib/postgresql");
    if (!Files.isDirectory(base)) {
      throw new IllegalStateException("PostgreSQL server binaries not found under /usr/lib/postgresql "
          + "(apt-get install postgresql; .ci/run does this)");
    }
    try (Stream<Path> versions = Files.list(base)) {
      return versions.map(v -> v.resolve("bin"))
          .filter(b -> Files.isExecutable(b.resolve("initdb")))
          .max(Comparator.comparing(b -> Integer.parseInt(b.getParent().getFileName().toString().replaceAll("\\D", "0"))))
          .orElseThrow(() -> new IllegalStateException("no initdb under " + base));
    }
  }

  private void run(String tool, String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    if (asNobody) cmd.addAll(List.of("runuser", "-u", "nobody", "--"));
    cmd.add(bin.resolve(tool).toString());
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile("herald-pg-cmd-", ".log");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).directory(dir.toFile()).start();
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException(tool + " failed: " + Files.readString(out));
    }
    Files.deleteIfExists(out);
  }

  public String url() {
    return url("herald");
  }

  public String url(String database) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
  }

  /** Another, empty database in this server (the server starts with one named herald). */
  public void createDatabase(String name) throws Exception {
    run("createdb", "-h", "127.0.0.1", "-p", String.valueOf(port), "-U", "herald", name);
  }

  /** The flags a node needs to use this server as its journal. */
  public String[] nodeFlags() {
    return nodeFlags("herald");
  }

  public String[] nodeFlags(String database) {
    return new String[] {"--journal", "postgres", "--postgres-url", url(database), "--postgres-user", "herald"};
  }

  @Override
  public void close() throws Exception {
    try {
      run("pg_ctl", "-D", dir.resolve("data").toString(), "-m", "fast", "-w", "stop");
    } finally {
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }
}
