package herald.settings;

import picocli.CommandLine;

/** Herald's version, as the node, its HTTP API and every command print it. */
public final class Version implements CommandLine.IVersionProvider {
  public static final String VERSION = "0.1.0";

  @Override
  public String[] getVersion() {
    return new String[] {"herald " + VERSION};
  }
}
