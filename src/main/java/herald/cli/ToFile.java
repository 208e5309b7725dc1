package herald.cli;

import herald.settings.Version;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;

/**
 * {@code herald to-file}: nsq_to_file. Appends a topic's messages to files through a durable
 * channel, and FINs a message only once it is written, flushed and synced to its file.
 */
@Command(name = "to-file", mixinStandardHelpOptions = true, versionProvider = Version.class, sortOptions = false,
    usageHelpWidth = 110,
    description = {
        "Writes the messages of a topic to files in --output-dir, one body per line, named"
            + " TOPIC.YYYYMMDD-HHMMSS.N.log (.log.gz with --gzip). It reads through a durable channel (--channel) and"
            + " FINs each message only after it is written, flushed and synced to its file (at most every 100 ms),"
            + " so a crash re-delivers, never loses; a message can then appear twice.",
        "A new file is started when the next message would take the current one past --max-bytes (uncompressed"
            + " bytes, as nsq_to_file counts) or when it is --rotate-interval old. On SIGINT or SIGTERM it syncs,"
            + " FINs what it wrote and closes the file.",
        "Exit code: 0 after -n messages; 1 when the node cannot be reached or drops the connection, or a file"
            + " cannot be written; 2 for bad flags; 130 or 143 after SIGINT or SIGTERM."})
public final class ToFile implements Callable<Integer> {
  private static final Duration SYNC_EVERY = Duration.ofMillis(100);
  private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

  @Spec
  CommandSpec spec;

  @Mixin
  SecretOption secret;

  @Option(names = "--http", paramLabel = "HOST:PORT", defaultValue = NodeClient.DEFAULT_ADDRESS,
      description = "node HTTP address (default: ${DEFAULT-VALUE})")
  String http;

  @Option(names = "--topic", paramLabel = "NAME", required = true, description = "topic to write out")
  String topic;

  @Option(names = "--channel", paramLabel = "NAME", defaultValue = "to-file",
      description = "durable channel to read through; it keeps collecting while the tool is stopped (default: ${DEFAULT-VALUE})")
  String channel;

  @Option(names = "--output-dir", paramLabel = "DIR", defaultValue = ".", description = "directory for the files (default: ${DEFAULT-VALUE})")
  Path outputDir;

  @Option(names = "--max-bytes", paramLabel = "SIZE", defaultValue = "0", converter = NodeClient.SizeConverter.class,
      description = "start a new file before one grows past this, such as 100m; 0 = no limit (default: ${DEFAULT-VALUE})")
  long maxBytes;

  @Option(names = "--rotate-interval", paramLabel = "DURATION", converter = NodeClient.DurationConverter.class,
      description = "start a new file when the current one is this old, such as 1h; none by default")
  Duration rotateInterval;

  @Option(names = "--gzip", description = "gzip the files")
  boolean gzip;

  @Option(names = {"-n", "--messages"}, paramLabel = "N", defaultValue = "0",
      description = "stop after N messages; 0 = run until interrupted (default: ${DEFAULT-VALUE})")
  long messages;

  @Option(names = "--rdy", paramLabel = "N", defaultValue = "200", description = "messages in flight at most (default: ${DEFAULT-VALUE})")
  long rdy;

  private volatile boolean stopping;

  /** The file being written: bytes counted before compression. */
  private static final class Current {
    final Path path;
    final FileOutputStream file;
    final OutputStream out;
    final long openedAt = System.nanoTime();
    long bytes;

    Current(Path path, FileOutputStream file, OutputStream out) {
      this.path = path;
      this.file = file;
      this.out = out;
    }
  }

  private Current current;
  private int sequence;
  private final List<String> unsynced = new ArrayList<>();
  private long unsyncedSince;

  @Override
  public Integer call() throws Exception {
    if (messages < 0) throw new ParameterException(spec.commandLine(), "-n must be 0 or more");
    if (rdy < 1) throw new ParameterException(spec.commandLine(), "--rdy must be at least 1");
    if (maxBytes < 0) throw new ParameterException(spec.commandLine(), "--max-bytes must be 0 or more");
    if (rotateInterval != null && rotateInterval.isZero()) throw new ParameterException(spec.commandLine(), "--rotate-interval must be above 0");
    NodeClient node = NodeClient.of(spec.commandLine(), http, secret);
    PrintWriter err = spec.commandLine().getErr();
    CountDownLatch done = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      stopping = true;
      try {
        done.await(5, TimeUnit.SECONDS);
      } catch (InterruptedException ignored) {
        // exiting anyway
      }
    }, "to-file-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      Files.createDirectories(outputDir);
      node.ping();
      try (Subscriber sub = Subscriber.connect(node, topic, channel, rdy, messages, w -> {
        err.println("to-file: " + w);
        err.flush();
      })) {
        try {
          run(sub);
        } finally {
          closeFile(sub);
        }
      }
      return 0;
    } catch (NodeClient.Failure f) {
      err.println("to-file: " + f.getMessage());
      err.flush();
      return 1;
    } catch (IOException e) {
      err.println("to-file: cannot write to " + (current != null ? current.path : outputDir) + ": " + NodeClient.describe(e));
      err.flush();
      return 1;
    } finally {
      done.countDown();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException ignored) {
        // already shutting down
      }
    }
  }

  private void run(Subscriber sub) throws NodeClient.Failure, IOException, InterruptedException {
    long taken = 0;
    while (!stopping && (messages == 0 || taken < messages)) {
      Subscriber.Message m = sub.next(Duration.ofMillis(50));
      long now = System.nanoTime();
      if (m != null) {
        if (current != null && rotateDue(now, m.body().length + 1)) closeFile(sub);
        if (current == null) openFile();
        current.out.write(m.body());
        current.out.write('\n');
        current.bytes += m.body().length + 1;
        if (unsynced.isEmpty()) unsyncedSince = now;
        unsynced.add(m.id());
        taken++;
      } else if (current != null && rotateDue(now, 0)) {
        closeFile(sub);
      }
      boolean allTaken = messages > 0 && taken >= messages;
      if (!unsynced.isEmpty() && (allTaken || unsynced.size() >= Math.max(1, rdy / 2)
          || now - unsyncedSince >= SYNC_EVERY.toNanos())) {
        sync(sub);
      }
    }
  }

  private boolean rotateDue(long now, long nextBytes) {
    boolean full = maxBytes > 0 && current.bytes > 0 && current.bytes + nextBytes > maxBytes;
    boolean old = rotateInterval != null && now - current.openedAt >= rotateInterval.toNanos();
    return full || old;
  }

  private void openFile() throws IOException {
    String stamp = LocalDateTime.now().format(STAMP);
    while (true) {
      Path path = outputDir.resolve(topic + "." + stamp + "." + (++sequence) + (gzip ? ".log.gz" : ".log"));
      try {
        Files.createFile(path);
      } catch (FileAlreadyExistsException e) {
        continue;
      }
      FileOutputStream file = new FileOutputStream(path.toFile());
      OutputStream out = gzip
          ? new GZIPOutputStream(new BufferedOutputStream(file, 64 * 1024), 64 * 1024, true)
          : new BufferedOutputStream(file, 64 * 1024);
      current = new Current(path, file, out);
      return;
    }
  }

  /** Flush and fsync the file, then FIN what is now on disk. */
  private void sync(Subscriber sub) throws IOException {
    if (current != null) {
      current.out.flush();
      current.file.getChannel().force(false);
    }
    for (String id : unsynced) sub.fin(id);
    unsynced.clear();
  }

  private void closeFile(Subscriber sub) throws IOException {
    if (current == null) return;
    if (current.out instanceof GZIPOutputStream gz) gz.finish();
    sync(sub);
    current.out.close();
    current = null;
  }
}
