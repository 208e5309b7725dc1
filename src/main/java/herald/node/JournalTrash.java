package herald.node;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.List;
import java.util.stream.Stream;

/**
 * Frees the files LevelDB deletes on a thread of its own, off LevelDB's lock.
 *
 * <p>LevelDB deletes an obsolete log (one memtable's worth) or compacted tables while it
 * holds the database's mutex, and no write can begin or end meanwhile. On this machine's ext4
 * unlinking a 64 MiB file takes ~30 ms (its blocks freed and discarded), so every memtable switch
 * (about once a second under /mpub with a 64 MiB memtable) held every write up for that long,
 * which set the publish p99 (performance.md, "What sets /mpub's p99"). So each log and table
 * file gets a second name here as soon as LevelDB creates it: LevelDB's delete then only removes a
 * name (microseconds), and this thread frees the file once its name here is the last one. Nothing
 * LevelDB still uses is touched: a file is freed only after LevelDB itself deleted it. The
 * directory watch says when (an event per deleted file), so the work follows LevelDB's deletions,
 * not the number of files a large journal holds; all names here are looked at only at start and
 * after the watch lost events (overflow).
 */
final class JournalTrash implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(JournalTrash.class);
  private final Path dir;
  private final Path trash;
  private final WatchService watch;
  private final Thread thread;

  private JournalTrash(Path dir, Path trash, WatchService watch) {
    this.dir = dir;
    this.trash = trash;
    this.watch = watch;
    this.thread = new Thread(this::run, "journal-trash");
    thread.setDaemon(true);
  }

  /** Watches {@code dir} (LevelDB's directory) from now on; null, and LevelDB deletes as before, if it cannot. */
  static JournalTrash start(Path dir) {
    Path trash = dir.resolve("trash");
    WatchService watch = null;
    try {
      Files.createDirectories(trash);
      // Names left by an earlier run: LevelDB has deleted its own or still has them; either way this one goes.
      emptyTrash(trash);
      watch = dir.getFileSystem().newWatchService();
      dir.register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_DELETE);
      JournalTrash t = new JournalTrash(dir, trash, watch);
      t.linkAll();
      t.thread.start();
      return t;
    } catch (IOException | UnsupportedOperationException e) {
      // No second names (a file system without hard links) or no watch: LevelDB's deletes free the files.
      standAside(watch, trash, "journal: deleted files are freed by LevelDB itself ({})", e);
      return null;
    }
  }

  /**
   * From now on LevelDB frees what it deletes, as without this class: the watch goes (its inotify
   * instance and poller thread), and so do the second names made so far, since a file whose name
   * here outlived LevelDB's delete would hold its space until the next start. Removing the second
   * name of a file LevelDB still uses leaves that file as it is.
   */
  private static void standAside(WatchService watch, Path trash, String message, Exception why) {
    log.warn(message, why.toString());
    try {
      if (watch != null) watch.close();
    } catch (IOException e) {
      // closing anyway
    }
    try {
      emptyTrash(trash);
    } catch (IOException | RuntimeException e) {
      log.warn("journal: cannot remove the second names in {} ({}); the next start removes them", trash, e.toString());
    }
  }

  private static void emptyTrash(Path trash) throws IOException {
    if (!Files.isDirectory(trash)) return;
    try (Stream<Path> left = Files.list(trash)) {
      for (Path p : left.toList()) Files.deleteIfExists(p);
    }
  }

  private void run() {
    try {
      while (true) {
        WatchKey key = watch.take();
        for (WatchEvent<?> event : key.pollEvents()) {
          if (event.kind() == StandardWatchEventKinds.OVERFLOW) {
            linkAll();
            sweep();
          } else if (event.context() instanceof Path name) {
            if (event.kind() == StandardWatchEventKinds.ENTRY_CREATE) link(name);
            else free(name);
          }
        }
        key.reset();
      }
    } catch (ClosedWatchServiceException | InterruptedException e) {
      // closed
    } catch (IOException | RuntimeException e) {
      standAside(watch, trash, "journal: deleted files are freed by LevelDB itself from now on ({})", e);
    }
  }

  private void linkAll() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.toList()) link(f.getFileName());
    }
  }

  /** A second name for a log or table file (the two kinds LevelDB deletes, and the large ones). */
  private void link(Path name) throws IOException {
    String n = name.toString();
    if (!n.endsWith(".log") && !n.endsWith(".sst") && !n.endsWith(".ldb")) return;
    try {
      Files.createLink(trash.resolve(name), dir.resolve(name));
    } catch (NoSuchFileException | FileAlreadyExistsException e) {
      // already deleted by LevelDB (it is freed as before), or already linked
    }
  }

  /** LevelDB deleted {@code name}: its name here is the last one, and removing it frees the file. */
  private void free(Path name) throws IOException {
    // Only while no file of that name is back in the directory (LevelDB's file numbers only grow).
    if (!Files.exists(dir.resolve(name))) Files.deleteIfExists(trash.resolve(name));
  }

  /** Frees what LevelDB deleted while the watch lost events: the files whose only name is here. */
  private void sweep() throws IOException {
    List<Path> names;
    try (Stream<Path> files = Files.list(trash)) {
      names = files.toList();
    }
    for (Path p : names) {
      try {
        if ((Integer) Files.getAttribute(p, "unix:nlink") == 1) Files.delete(p);
      } catch (NoSuchFileException e) {
        // gone
      }
    }
  }

  @Override
  public void close() {
    try {
      watch.close();
    } catch (IOException e) {
      // closing anyway
    }
    thread.interrupt();
  }
}
