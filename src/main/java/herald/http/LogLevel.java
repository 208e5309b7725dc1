package herald.http;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Locale;

/**
 * nsqd's log levels (1 debug, 2 info, 3 warn, 4 error, 5 fatal) over the "herald" logger, which
 * every Herald message goes through. Herald logs nothing as fatal: fatal turns its logging off.
 */
final class LogLevel {
  private static final List<String> NAMES = List.of("debug", "info", "warn", "error", "fatal");
  private static final List<Level> LEVELS = List.of(Level.DEBUG, Level.INFO, Level.WARN, Level.ERROR, Level.OFF);

  private LogLevel() {}

  /** nsqd's number for a level's name (any case), or 400 INVALID_VALUE. */
  static int parse(String name) {
    int i = NAMES.indexOf(name.toLowerCase(Locale.ROOT));
    if (i < 0) throw ApiError.badRequest("INVALID_VALUE");
    return i + 1;
  }

  static void set(int level) {
    logger().setLevel(LEVELS.get(level - 1));
  }

  static int current() {
    Level level = logger().getEffectiveLevel();
    if (level.toInt() <= Level.DEBUG.toInt()) return 1;
    for (int i = LEVELS.size() - 1; i >= 0; i--) {
      if (level.toInt() >= LEVELS.get(i).toInt()) return i + 1;
    }
    return 1;
  }

  private static Logger logger() {
    return (Logger) LoggerFactory.getLogger("herald");
  }
}
