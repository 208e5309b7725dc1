package herald.settings;

import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

/**
 * A file operation's exception as a short phrase. NIO's exceptions carry only the path as their
 * message, so a line built from it named the path twice and not what was wrong ("data path x is
 * unusable: x"). Shared by the node's start-up lines and the tools'.
 */
public final class FileProblem {
  private FileProblem() {}

  /** The phrase, or null when {@code t} is not a file system exception. */
  public static String of(Throwable t) {
    if (t instanceof NoSuchFileException) return "no such file or directory";
    if (t instanceof AccessDeniedException) return "permission denied";
    if (t instanceof FileAlreadyExistsException) return "a file of that name exists";
    if (t instanceof FileSystemException f && f.getReason() != null) return f.getReason();
    return null;
  }
}
