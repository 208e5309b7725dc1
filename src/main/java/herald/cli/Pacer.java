package herald.cli;

/**
 * {@code pub --rate}: message number n (from 0) is due at start + n / rate. A batch takes every
 * message due when it goes, so when the node answers slower than one message's interval the
 * next batch carries the ones that fell due meanwhile and the rate holds; nothing goes before its time.
 */
final class Pacer {
  private final long rate;
  private long start;
  private boolean started;

  /** rate: messages per second; 0 = no limit. */
  Pacer(long rate) {
    this.rate = rate;
  }

  /** The first message arrived (nanoTime); later calls change nothing. */
  void start(long now) {
    if (!started) {
      start = now;
      started = true;
    }
  }

  /** When message number n is due (nanoTime); with no limit, now. */
  long dueAt(long n) {
    return rate == 0 ? Long.MIN_VALUE : start + (long) (n * 1e9 / rate);
  }

  /** How many messages from number n on are due at now: at least 1 (n itself, once due), at most max. */
  int dueFrom(long n, long now, int max) {
    if (rate == 0) return max;
    long dueCount = (long) Math.floor((now - start) * (double) rate / 1e9) + 1 - n;
    return (int) Math.max(1, Math.min(max, dueCount));
  }
}
