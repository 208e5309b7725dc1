package herald.cluster;

import java.time.Duration;
import java.time.Instant;
import java.util.Set;

/**
 * Whether this node can use its journal (JournalWatch keeps it), and which nodes of the cluster
 * cannot (shared through Distributed Data): read by /stats health, /metrics and FitNodesFirst.
 */
public final class JournalHealth {
  private volatile long failingSinceMs;      // 0: the last probe answered in time
  private volatile String reason = "";
  private volatile boolean unfit;            // this node said it hands its shards away
  private volatile Set<String> unfitNodes = Set.of();

  /** The last probe answered: the journal works. */
  void ok() {
    failingSinceMs = 0;
  }

  /** The probe sent at {@code sinceMs} failed or is overdue; the first of a run of failures counts. */
  void failing(String why, long sinceMs) {
    if (failingSinceMs == 0) failingSinceMs = sinceMs;
    reason = why;
  }

  /** How long the journal has been failing, zero while it works. */
  public Duration failingFor() {
    long since = failingSinceMs;
    return since == 0 ? Duration.ZERO : Duration.ofMillis(Math.max(1, System.currentTimeMillis() - since));
  }

  public boolean failing() {
    return failingSinceMs != 0;
  }

  /** For /stats health: null while the journal works. */
  public String problem() {
    long since = failingSinceMs;
    if (since == 0) return null;
    return "journal unreachable since " + Instant.ofEpochMilli(since) + " (" + reason + ")"
        + (unfit ? "; this node's topics moved to nodes that can reach it" : "");
  }

  void unfit(boolean unfit) {
    this.unfit = unfit;
  }

  /** This node handed (or is handing) its shards to nodes that can use the journal. */
  public boolean unfit() {
    return unfit;
  }

  void unfitNodes(Set<String> nodes) {
    unfitNodes = Set.copyOf(nodes);
  }

  /** The cluster addresses (pekko://herald@host:port) of the nodes that cannot use the journal now. */
  public Set<String> unfitNodes() {
    return unfitNodes;
  }
}
