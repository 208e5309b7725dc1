package herald.node;

import com.typesafe.config.Config;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.ReadJournalProvider;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByPersistenceIdQuery;
import org.apache.pekko.persistence.query.journal.leveldb.EventsByPersistenceIdStage;
import org.apache.pekko.stream.javadsl.Source;
import scala.Option;

/**
 * The read side of {@link LevelDbJournal}: the bounded "current" query channels use to read their
 * topic's journal back. Pekko's LevelDB read journal refuses any write journal whose class is not
 * exactly its own, though it only sends the plugin actor the replay requests every Pekko journal
 * answers; this runs the same query stage against Herald's plugin. Live queries are not offered
 * (Herald runs none, and LevelDbJournal writes off the plugin's thread).
 */
public final class LevelDbReadJournal implements ReadJournalProvider {
  private final Reader reader;

  public LevelDbReadJournal(ExtendedActorSystem system, Config config) {
    String writePlugin = config.getString("write-plugin");
    reader = new Reader(writePlugin.isEmpty() ? system.settings().config().getString("pekko.persistence.journal.plugin") : writePlugin,
        config.getInt("max-buffer-size"));
  }

  @Override
  public org.apache.pekko.persistence.query.scaladsl.ReadJournal scaladslReadJournal() {
    return new org.apache.pekko.persistence.query.scaladsl.ReadJournal() {};
  }

  @Override
  public org.apache.pekko.persistence.query.javadsl.ReadJournal javadslReadJournal() {
    return reader;
  }

  static final class Reader implements CurrentEventsByPersistenceIdQuery {
    private final String writePlugin;
    private final int maxBufferSize;

    Reader(String writePlugin, int maxBufferSize) {
      this.writePlugin = writePlugin;
      this.maxBufferSize = maxBufferSize;
    }

    @Override
    public Source<EventEnvelope, NotUsed> currentEventsByPersistenceId(String persistenceId, long fromSequenceNr, long toSequenceNr) {
      return Source.fromMaterializer((materializer, attributes) -> Source.fromGraph(new EventsByPersistenceIdStage(
              persistenceId, fromSequenceNr, toSequenceNr, maxBufferSize, writePlugin, Option.empty(), materializer))
              .named("currentEventsByPersistenceId-" + persistenceId))
          .mapMaterializedValue(ignored -> NotUsed.getInstance());
    }
  }
}
