package herald.e2e;

import java.time.Duration;
import java.util.concurrent.Callable;

/** Waits for a condition with a deadline; never a fixed sleep. */
public final class Await {
  private Await() {}

  public static void until(Duration timeout, String what, Callable<Boolean> condition) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      if (Boolean.TRUE.equals(condition.call())) return;
      if (System.nanoTime() > deadline) throw new AssertionError("timed out after " + timeout + " waiting for: " + what);
      Thread.sleep(20);
    }
  }

  /** The first non-null value {@code value} gives, polled until the deadline. */
  public static <T> T value(Duration timeout, String what, Callable<T> value) throws Exception {
    Object[] found = new Object[1];
    until(timeout, what, () -> (found[0] = value.call()) != null);
    @SuppressWarnings("unchecked")
    T t = (T) found[0];
    return t;
  }
}
