package herald.cli;

import picocli.CommandLine;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The secret a tool shows a node with identities (docs/security.md). Read from a file or the
 * environment, never from the command line, where any user of the machine could read it (ps).
 */
final class SecretOption {
  static final String ENV = "HERALD_SECRET";

  @Option(names = "--secret-file", paramLabel = "FILE",
      description = "file holding the secret for a node with identities (docs/security.md); without it, the "
          + ENV + " environment variable when set")
  Path file;

  /** The secret, surrounding whitespace (the file's last newline) removed; a file that cannot be read is a usage error. */
  Optional<String> secret(CommandLine cl) {
    if (file == null) {
      String env = System.getenv(ENV);
      return env == null || env.isBlank() ? Optional.empty() : Optional.of(env.strip());
    }
    String text;
    try {
      text = Files.readString(file).strip();
    } catch (IOException e) {
      throw new ParameterException(cl, "--secret-file: cannot read " + file + " (" + NodeClient.describe(e) + ")");
    }
    if (text.isEmpty()) throw new ParameterException(cl, "--secret-file: " + file + " is empty");
    return Optional.of(text);
  }
}
