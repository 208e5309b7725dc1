package herald.node;

import com.typesafe.config.Config;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.journal.leveldb.LeveldbJournal;
import org.iq80.leveldb.Options;
import scala.collection.immutable.Seq;
import scala.concurrent.ExecutionContext;
import scala.concurrent.Future;
import scala.concurrent.Promise;
import scala.runtime.BoxedUnit;
import scala.util.Try;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * Pekko's LevelDB journal (same files, same keys, same serialization: nothing to migrate) with its
 * writes and deletions run on a pool of writer threads instead of inside the plugin's one actor.
 *
 * <p>Pekko's plugin writes each entity's batch on the actor's thread, one LevelDB write and one
 * fsync after another, so a channel's progress write, a topic's retention delete and the registry
 * queue behind a topic's write and its fsync, and no two entities ever share an fsync. LevelDB itself
 * group-commits writes that arrive at the same time from several threads (one log append and one
 * fsync for all of them, up to 1 MB), so handing each write to a writer thread is enough to share
 * fsyncs across topics and channels. What stays true: an entity sends its next write only after the
 * previous one was answered, so one entity's writes never overlap or reorder; Pekko answers the
 * writes in the order they reached the journal (its resequencer). Herald uses no tags and no live
 * queries, the only parts of the plugin that keep state outside LevelDB itself (the id mapping is
 * locked by Pekko for use from other threads).
 */
public final class LevelDbJournal extends LeveldbJournal {
  private final ExecutionContext writers;
  private final Options options;
  private final ReentrantReadWriteLock open = new ReentrantReadWriteLock();
  private boolean closed; // guarded by open

  public LevelDbJournal(Config config) {
    super(config);
    writers = context().system().dispatchers().lookup(config.getString("write-dispatcher"));
    options = super.leveldbOptions().writeBufferSize((int) config.getBytes("write-buffer-size").longValue());
  }

  /** Opened with these (Pekko's plus the write buffer): read when the actor starts, after the constructor. */
  @Override
  public Options leveldbOptions() {
    return options;
  }

  @Override
  public Future<Seq<Try<BoxedUnit>>> asyncWriteMessages(Seq<AtomicWrite> messages) {
    return onWriter(() -> super.asyncWriteMessages(messages));
  }

  @Override
  public Future<BoxedUnit> asyncDeleteMessagesTo(String persistenceId, long toSequenceNr) {
    return onWriter(() -> super.asyncDeleteMessagesTo(persistenceId, toSequenceNr));
  }

  /** Pekko's synchronous write, run on a writer thread. */
  private <T> Future<T> onWriter(Supplier<Future<T>> write) {
    Promise<T> done = Promise.apply();
    writers.execute(() -> {
      open.readLock().lock();
      try {
        if (closed) done.failure(new IllegalStateException("the journal is closed"));
        else done.completeWith(write.get());
      } catch (Throwable e) {
        done.tryFailure(e);
      } finally {
        open.readLock().unlock();
      }
    });
    return done.future();
  }

  /** Closes LevelDB only once no writer is inside it: a write racing the close would use freed memory. */
  @Override
  public void postStop() {
    open.writeLock().lock();
    try {
      closed = true;
      super.postStop();
    } finally {
      open.writeLock().unlock();
    }
  }
}
