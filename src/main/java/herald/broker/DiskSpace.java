package herald.broker;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Free space where the journal lives. Below the minimum, publishes are refused before the disk is
 * full: native LevelDB writes its files through shared memory maps, and a page that finds no free
 * block kills the JVM with SIGBUS instead of failing the write. What is left below the minimum is
 * the reserve that FINs, REQs and channel progress (small writes) and LevelDB's compactions keep
 * using. Measured every few hundred milliseconds; between measures every admitted publish counts
 * against the last figure, so a burst cannot run past the minimum unseen.
 */
public final class DiskSpace {
  private static final Logger log = LoggerFactory.getLogger(DiskSpace.class);
  /** A message costs about its body and this in the journal (key, event header, LevelDB record). */
  private static final long OVERHEAD = 64;

  private final Path dir;
  private final FileStore store;
  private final long minFree;
  private final String minFreeText;
  private final AtomicLong admitted = new AtomicLong();
  private volatile long free;
  private volatile boolean low;

  private DiskSpace(Path dir, FileStore store, long minFree, String minFreeText) {
    this.dir = dir;
    this.store = store;
    this.minFree = minFree;
    this.minFreeText = minFreeText;
  }

  /**
   * {@code minFree}: "N%" of the file system's size, or bytes ("0" turns the check off).
   * Throws IllegalArgumentException for anything else.
   */
  public static DiskSpace of(Path dir, String minFree) throws IOException {
    Files.createDirectories(dir);
    FileStore store = Files.getFileStore(dir);
    String spec = minFree.trim();
    long bytes;
    try {
      if (spec.endsWith("%")) {
        double percent = Double.parseDouble(spec.substring(0, spec.length() - 1));
        if (percent < 0 || percent >= 100) throw new NumberFormatException();
        bytes = (long) (store.getTotalSpace() * percent / 100);
      } else {
        bytes = com.typesafe.config.ConfigFactory.parseString("b = \"" + spec + "\"").getBytes("b");
        if (bytes < 0) throw new NumberFormatException();
      }
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("--min-free-space must be a percentage (5%) or a size (500MB, 1GiB, 1073741824), got '" + minFree + "'");
    }
    DiskSpace space = new DiskSpace(dir, store, bytes, spec);
    space.measure();
    return space;
  }

  /** Reads the free space again; logs when publishing stops or resumes. */
  public void measure() {
    try {
      free = store.getUsableSpace();
    } catch (IOException e) {
      log.warn("cannot read the free space of {}: {}", dir, e.toString());
      return;
    }
    admitted.set(0);
    boolean nowLow = free < minFree;
    if (nowLow != low) {
      low = nowLow;
      if (nowLow) log.warn("publishes refused: {}", problem());
      else log.info("publishes accepted again: {} free in {}", size(free), dir);
    }
  }

  /** A compaction's inputs at a level past 0 are bounded by LevelDB (25 tables of 2 MB); level 0's by its memtable size. */
  private static final long MAX_LEVEL_INPUTS = 50L << 20;
  /** A new manifest and log, and what the check before the open writes (a few MB at most). */
  private static final long OPEN_MARGIN = 16L << 20;

  /**
   * What LevelDB may write while it opens the journal at {@code dir}, before the node serves
   * anything: its logs replayed into a table plus a new log (twice the logs), and the compaction
   * it may start at once. LevelDB 1.8 compacts when level 0 reaches 4 tables (replaying the log
   * can add the fourth, each at most one memtable of {@code writeBufferSize}): those and the level-1
   * tables they overlap, which for a journal's keys is most of level 1, and it frees the inputs only
   * once the output is whole. Its files are written through shared memory maps, so a write that
   * finds the disk full kills the JVM with SIGBUS instead of failing; a start that cannot pay for
   * this much must be refused before the open.
   */
  public static long neededToOpen(Path dir, long writeBufferSize) throws IOException {
    long logs = 0;
    long tables = 0;
    if (Files.isDirectory(dir)) {
      try (var files = Files.list(dir)) {
        for (Path f : files.toList()) {
          String name = f.getFileName().toString();
          if (name.endsWith(".log")) logs += Files.size(f);
          else if (name.endsWith(".sst") || name.endsWith(".ldb")) tables += Files.size(f);
        }
      }
    }
    return 2 * logs + Math.min(tables + logs, 4 * writeBufferSize + MAX_LEVEL_INPUTS) + OPEN_MARGIN;
  }

  /** Whether a publish of these bodies may go ahead. */
  private boolean admits(long bodyBytes, int messages) {
    if (minFree == 0) return true;
    long after = free - admitted.addAndGet(bodyBytes + OVERHEAD * messages);
    if (after >= minFree) return true;
    if (!low) {
      low = true;
      log.warn("publishes refused: {}", problem());
    }
    return false;
  }

  /** Null when a publish of {@code messages} may go ahead, else why not (see {@link #problem}). */
  public String refusal(List<Published> messages) {
    return admits(Published.bodyBytes(messages), messages.size()) ? null : problem();
  }

  /** Why publishes are refused, or null while they are not. */
  public String problem() {
    if (!low) return null;
    return "disk space low: " + size(Math.max(0, free - admitted.get())) + " free in " + dir.toAbsolutePath()
        + ", publishes need " + size(minFree) + " (--min-free-space " + minFreeText + "); FINs and consumers still served";
  }

  public long freeBytes() {
    return free;
  }

  public long minFreeBytes() {
    return minFree;
  }

  public boolean low() {
    return low;
  }

  private static String size(long bytes) {
    return bytes >= 10L << 30 ? (bytes >> 30) + " GiB" : bytes >= 10L << 20 ? (bytes >> 20) + " MiB" : bytes + " bytes";
  }
}
