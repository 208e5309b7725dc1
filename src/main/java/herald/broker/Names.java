package herald.broker;

import java.util.regex.Pattern;

/** NSQ's naming rules for topics and channels. */
public final class Names {
  private static final Pattern VALID = Pattern.compile("^[.a-zA-Z0-9_-]+(#ephemeral)?$");
  private static final String EPHEMERAL = "#ephemeral";

  private Names() {}

  public static boolean isValid(String name) {
    return name != null && !name.isEmpty() && name.length() <= 64 && VALID.matcher(name).matches();
  }

  public static boolean isEphemeral(String name) {
    return name.endsWith(EPHEMERAL);
  }
}
