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
 * Checked by the cluster when a node joins: every member must use the shared PostgreSQL journal.
 * This also stops a node from joining a single LevelDB node that formed its own cluster.
 */
public final class JournalCompatibility extends JoinConfigCompatChecker {
  private static final String KEY = "herald.journal";

  @Override
  public Seq<String> requiredKeys() {
    return seq(KEY);
  }

  @Override
  public ConfigValidation check(Config joining, Config cluster) {
    String theirs = joining.getString(KEY);
    String ours = cluster.getString(KEY);
    if (theirs.equals("postgres") && ours.equals("postgres")) return Valid$.MODULE$;
    return Invalid.apply(seq("every node of a cluster needs --journal postgres (the joining node has "
        + theirs + ", the cluster has " + ours + ")"));
  }

  private static Seq<String> seq(String value) {
    return CollectionConverters.asScala(List.of(value)).toList();
  }
}
