package herald.security;

import java.util.List;

/** Who a secret belongs to and what it may do; good until {@code expiresAtMillis}. */
public record Identity(String name, String url, List<Grant> grants, long expiresAtMillis) {

  /** The identity every request has when no authorization is configured: everything on everything. */
  public static final Identity ANYONE = new Identity("anyone", "",
      List.of(Grant.of(".*", List.of(".*"), List.of("publish", "subscribe", "admin", "stats"))), Long.MAX_VALUE);

  /**
   * Stats are read node-wide (the answers name every topic), so any grant with the stats right
   * reads them all, whatever its patterns.
   */
  public boolean allows(Right right, String topic, String channel) {
    for (Grant g : grants) {
      if (right == Right.STATS ? g.rights().contains(Right.STATS) : g.allows(right, topic, channel)) return true;
    }
    return false;
  }

  public boolean expired(long nowMillis) {
    return nowMillis >= expiresAtMillis;
  }
}
