package herald.security;

import java.util.Locale;
import java.util.Optional;

/**
 * What an identity may do. publish and subscribe are nsqd's permissions (and an nsqauthd server's);
 * admin (create, delete, empty, pause: the console's actions) and stats (read-only /stats, /metrics
 * and the other GET endpoints) are Herald's.
 */
public enum Right {
  PUBLISH, SUBSCRIBE, ADMIN, STATS;

  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Optional<Right> parse(String permission) {
    for (Right r : values()) {
      if (r.wireName().equals(permission)) return Optional.of(r);
    }
    return Optional.empty();
  }
}
