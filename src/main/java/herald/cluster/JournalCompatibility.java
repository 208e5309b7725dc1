package herald.cluster;

import com.typesafe.config.Config;
import org.apache.pekko.cluster.ConfigValidation;
import org.apache.pekko.cluster.Invalid;
import org.apache.pekko.cluster.JoinConfigCompatChecker;
import org.apache.pekko.cluster.Valid$;
import scala.collection.immutable.Seq;
import scala.jdk.javaapi.CollectionConverters;

import java.util.List;

/**
 * Checked when a node joins through the seed nodes, first by the seed (with the joining node's
 * values) and then by the joining node (with the seed's): every member must use the shared
 * PostgreSQL journal, and the same one. This also stops a node from joining a single LevelDB node
 * that formed its own cluster. A refused node never becomes a member; Pekko logs the reason on the
 * seed, and the joining node stops.
 */
public final class JournalCompatibility extends JoinConfigCompatChecker {
  private static final String JOURNAL = "herald.journal";

  /** The start of what a refused node says, on both sides. */
  public static final String REFUSAL = "every node of a cluster needs --journal postgres on the same database";

  @Override
  public Seq<String> requiredKeys() {
    String id = JournalIdentity.KEY;
    return CollectionConverters.asScala(List.of(JOURNAL, id + ".id", id + ".database", id + ".system")).toList();
  }

  /** {@code actual} is always this node's config, {@code toCheck} the other side's. */
  @Override
  public ConfigValidation check(Config toCheck, Config actual) {
    String theirs = toCheck.getString(JOURNAL);
    String ours = actual.getString(JOURNAL);
    if (!theirs.equals("postgres") || !ours.equals("postgres")) {
      return invalid(REFUSAL + " (this node has --journal " + ours + ", the other " + theirs + ")");
    }
    JournalIdentity mine = JournalIdentity.of(actual);
    JournalIdentity other = JournalIdentity.of(toCheck);
    if (mine.sameAs(other)) return Valid$.MODULE$;
    return invalid(REFUSAL + ": this node uses " + mine + ", the other " + other);
  }

  private static ConfigValidation invalid(String message) {
    return Invalid.apply(CollectionConverters.asScala(List.of(message)).toList());
  }
}
