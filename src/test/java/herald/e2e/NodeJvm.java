package herald.e2e;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * How tests start a JVM of Herald's (a node, or a tool): the test class path, plus two things that
 * cut the CPU of a node's start to about a third. The suite starts some seventy nodes on a 2-core
 * machine, and a plain start costs 11-14 s of CPU, mostly loading and compiling Pekko:
 * <ul>
 *   <li>C1 only: a test node lives seconds, so C2's compilations never pay back;</li>
 *   <li>a class-data archive (CDS) of what a node loads, made once by a first node that starts and
 *       stops. CDS takes classes from jars only, so Herald's own classes go into a jar first.</li>
 * </ul>
 * Nothing here changes what a node does; if the archive cannot be made, nodes start without it.
 */
final class NodeJvm {
  private static final Path DIR = Path.of("target", "node-jvm");
  private static final Path CLASSES = Path.of("target", "classes");
  private static final Path JAR = DIR.resolve("herald-classes.jar");
  private static final Path ARCHIVE = DIR.resolve("node-classes.jsa");
  private static final Pattern LISTENING = Pattern.compile("listening on http://[^ ]*:(\\d+)");

  private static List<String> prefix;

  private NodeJvm() {}

  /** java, its flags and -cp; the main class and its arguments follow. */
  static synchronized List<String> command() {
    if (prefix == null) prefix = prepare();
    return prefix;
  }

  private static List<String> prepare() {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> plain = List.of(java, "-Xmx512m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"));
    try {
      String classPath = jarClassPath();
      List<String> base = List.of(java, "-Xmx512m", "-XX:TieredStopAtLevel=1", "-cp", classPath);
      if (!upToDate(ARCHIVE, JAR)) makeArchive(base);
      if (!Files.exists(ARCHIVE)) return base;
      List<String> withArchive = new ArrayList<>(base);
      withArchive.add(1, "-XX:SharedArchiveFile=" + ARCHIVE);
      return List.copyOf(withArchive);
    } catch (Exception e) {
      System.err.println("node JVMs start without a class-data archive: " + e);
      return plain;
    }
  }

  /** The test class path with target/classes replaced by a jar of it (rebuilt when a class changed). */
  private static String jarClassPath() throws IOException {
    Files.createDirectories(DIR);
    FileTime newest;
    try (Stream<Path> files = Files.walk(CLASSES)) {
      newest = files.map(NodeJvm::modified).max(FileTime::compareTo).orElseThrow();
    }
    if (!Files.exists(JAR) || modified(JAR).compareTo(newest) < 0) writeJar();
    // CDS allows directories on the path only after the last jar (target/test-classes, last).
    List<String> jars = new ArrayList<>(List.of(JAR.toAbsolutePath().toString()));
    List<String> directories = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (Path.of(entry).toAbsolutePath().equals(CLASSES.toAbsolutePath())) continue;
      (Files.isDirectory(Path.of(entry)) ? directories : jars).add(entry);
    }
    jars.addAll(directories);
    return String.join(File.pathSeparator, jars);
  }

  private static void writeJar() throws IOException {
    Path tmp = DIR.resolve("herald-classes.jar.tmp");
    try (OutputStream out = Files.newOutputStream(tmp);
         JarOutputStream jar = new JarOutputStream(out);
         Stream<Path> files = Files.walk(CLASSES)) {
      for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
        jar.putNextEntry(new JarEntry(CLASSES.relativize(f).toString().replace(File.separatorChar, '/')));
        Files.copy(f, jar);
        jar.closeEntry();
      }
    }
    Files.move(tmp, JAR, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** Starts a node that writes the archive when it exits, waits until it answers, and stops it. */
  private static void makeArchive(List<String> base) throws Exception {
    Files.deleteIfExists(ARCHIVE);
    Path tmp = DIR.resolve("node-classes.jsa.tmp");
    Files.deleteIfExists(tmp);
    Path data = Files.createTempDirectory("herald-node-jvm-");
    Path log = data.resolve("log");
    List<String> cmd = new ArrayList<>(base);
    cmd.add(1, "-XX:ArchiveClassesAtExit=" + tmp);
    cmd.addAll(List.of("herald.node.Main", "--http-address", "127.0.0.1:0", "--tcp-address", "127.0.0.1:0",
        "--data-path", data.resolve("data").toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      Await.until(Duration.ofSeconds(120), "the archiving node answers /ping", () -> {
        if (!p.isAlive()) throw new IllegalStateException("it exited: " + Files.readString(log));
        Matcher m = LISTENING.matcher(Files.readString(log));
        if (!m.find()) return false;
        try {
          return new HttpClientHelper("http://127.0.0.1:" + m.group(1)).post("/pub?topic=warm-up", "x").status() == 200;
        } catch (IOException e) {
          return false;
        }
      });
      p.destroy();  // SIGTERM: the JVM writes the archive as it exits
      if (!p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)) throw new IllegalStateException("it did not stop");
    } finally {
      p.destroyForcibly();
    }
    if (!Files.exists(tmp)) throw new IllegalStateException("no archive written: " + Files.readString(log));
    Files.move(tmp, ARCHIVE, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static boolean upToDate(Path made, Path from) throws IOException {
    return Files.exists(made) && modified(made).compareTo(modified(from)) >= 0;
  }

  private static FileTime modified(Path p) {
    try {
      return Files.getLastModifiedTime(p);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
