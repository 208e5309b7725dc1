package herald.broker;

import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByPersistenceIdQuery;

/** Which journal an entity writes to, and how a channel reads its topic's journal back. */
public final class Journals {
  /** Ephemeral topics and channels: a journal that keeps nothing (NullJournal). */
  public static final String EPHEMERAL = "herald.ephemeral-journal";
  public static final String NO_SNAPSHOTS = "pekko.persistence.no-snapshot-store";

  private Journals() {}

  /** The journal plugin id of an entity: "" is the configured default (LevelDB, or the cluster's). */
  public static String journal(boolean ephemeral) {
    return ephemeral ? EPHEMERAL : "";
  }

  public static String snapshots(boolean ephemeral) {
    return ephemeral ? NO_SNAPSHOTS : "";
  }

  public static CurrentEventsByPersistenceIdQuery reader(ActorSystem<?> system) {
    String id = system.settings().config().getString("herald.read-journal");
    return PersistenceQuery.get(system).getReadJournalFor(CurrentEventsByPersistenceIdQuery.class, id);
  }
}
