package herald.security;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.function.Consumer;

/**
 * Files read again when they change (the auth file, the TLS certificate and key). Looked at when
 * used, at most once a second: size, time and inode, so both a rewrite in place and a rename over
 * the file count. A change that fails to load is reported once; the next change is tried again.
 */
final class FileWatch {
  private static final long CHECK_EVERY_MS = 1000;

  interface Load {
    void run() throws Exception;
  }

  private final List<Path> paths;
  private String version;
  private volatile long checkedAt;

  FileWatch(List<Path> paths) throws IOException {
    this.paths = List.copyOf(paths);
    this.version = version();
    this.checkedAt = System.currentTimeMillis();
  }

  void ifChanged(Load load, Consumer<Exception> failed) {
    long now = System.currentTimeMillis();
    if (now - checkedAt < CHECK_EVERY_MS) return;
    synchronized (this) {
      if (now - checkedAt < CHECK_EVERY_MS) return;
      checkedAt = now;
      try {
        String current = version();
        if (current.equals(version)) return;
        version = current;
        load.run();
      } catch (Exception e) {
        failed.accept(e);
      }
    }
  }

  private String version() throws IOException {
    StringBuilder v = new StringBuilder();
    for (Path p : paths) {
      BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
      v.append(a.lastModifiedTime().toMillis()).append('/').append(a.size()).append('/').append(a.fileKey()).append(';');
    }
    return v.toString();
  }
}
