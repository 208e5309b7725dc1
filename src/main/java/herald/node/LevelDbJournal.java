package herald.node;

import com.typesafe.config.Config;
import herald.broker.MessagesAppendedSerializer;
import herald.broker.Topic;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.journal.Tagged;
import org.apache.pekko.persistence.journal.leveldb.Key;
import org.apache.pekko.persistence.journal.leveldb.Key$;
import org.apache.pekko.persistence.journal.leveldb.LeveldbJournal;
import org.iq80.leveldb.Options;
import scala.collection.immutable.Seq;
import scala.concurrent.ExecutionContext;
import scala.concurrent.Future;
import scala.concurrent.Promise;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.BoxedUnit;
import scala.util.Try;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * Pekko's LevelDB journal (same files, keys and serialization, but no per-entity counter key with
 * each write: see writeMessages; a journal Pekko's plugin or an older Herald wrote opens as it is) with its
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
 *
 * <p>One thing Pekko's synchronous plugin gave for free must be kept by hand: a journal call can now
 * time out (the circuit breaker) while its write still waits for a writer thread or an fsync. The
 * entity then stops and restarts, and its recovery must not read the highest sequence number before
 * that write lands, or the new incarnation would write the same sequence number again. So each
 * entity's last write in flight is remembered, and its highest sequence number is read only after it.
 */
public final class LevelDbJournal extends LeveldbJournal {
  private final ExecutionContext writers;
  private final Options options;
  private final ReentrantReadWriteLock open = new ReentrantReadWriteLock();
  private boolean closed; // guarded by open
  /** Persistence id -> its last write not yet done. */
  private final ConcurrentHashMap<String, Future<?>> inFlight = new ConcurrentHashMap<>();
  private final boolean freeInBackground;
  private JournalTrash trash;

  public LevelDbJournal(Config config) {
    super(config);
    writers = context().system().dispatchers().lookup(config.getString("write-dispatcher"));
    options = super.leveldbOptions().writeBufferSize((int) config.getBytes("write-buffer-size").longValue());
    freeInBackground = config.getBoolean("free-deleted-files-in-background");
  }

  /** Before LevelDB opens, so that every file it creates gets its second name (JournalTrash). */
  @Override
  public void preStart() {
    if (freeInBackground) trash = JournalTrash.start(leveldbDir().toPath());
    super.preStart();
  }

  /** Opened with these (Pekko's plus the write buffer): read when the actor starts, after the constructor. */
  @Override
  public Options leveldbOptions() {
    return options;
  }

  @Override
  public Future<Seq<Try<BoxedUnit>>> asyncWriteMessages(Seq<AtomicWrite> messages) {
    Future<Seq<Try<BoxedUnit>>> written = onWriter(() -> writeMessages(messages));
    Set<String> ids = new HashSet<>();
    messages.foreach(write -> ids.add(write.persistenceId()));
    for (String id : ids) {
      inFlight.put(id, written);
      written.onComplete(done -> inFlight.remove(id, written), scala.concurrent.ExecutionContext.parasitic$.MODULE$);
    }
    return written;
  }

  /**
   * Pekko's write without its per-entity counter key. Pekko puts the entity's highest sequence
   * number under the key (entity, 0) with every write, so every LevelDB table holds that key and
   * spans the entity's whole key range: every level-0 table overlaps all of the entity's level-1
   * tables, and each compaction rewrote all of level 1 (22 MB every ~5 s under /mpub, its fsyncs
   * beside the log's). Without it a topic's keys only grow, and LevelDB moves its tables down
   * without rewriting them. The highest sequence number is then the entity's last message key, or
   * the counter where one is left (see readHighestSequenceNr); a deletion that removes an entity's
   * last message writes the counter first. Tags and live queries (Herald uses neither) keep Pekko's.
   */
  private Future<Seq<Try<BoxedUnit>>> writeMessages(Seq<AtomicWrite> messages) {
    if (hasPersistenceIdSubscribers() || hasTagSubscribers()
        || messages.exists(a -> a.payload().exists(p -> p.payload() instanceof Tagged))) {
      return super.asyncWriteMessages(messages);
    }
    try {
      List<Try<BoxedUnit>> results = withBatch(batch -> {
        List<Try<BoxedUnit>> each = new ArrayList<>(messages.size());
        messages.foreach(a -> each.add(Try.apply(() -> {
          a.payload().foreach(p -> {
            byte[] bytes = persistentToBytes(p.withTimestamp(System.currentTimeMillis()));
            batch.put(Key$.MODULE$.keyToBytes(new Key(numericId(p.persistenceId()), p.sequenceNr(), 0)), bytes);
            return BoxedUnit.UNIT;
          });
          return BoxedUnit.UNIT;
        })));
        return each;
      });
      return Future.successful(CollectionConverters.asScala(results).toList());
    } catch (RuntimeException e) {
      return scala.concurrent.Future$.MODULE$.failed(e);
    }
  }

  /** The entity's counter, or its last message key's sequence number if higher (see writeMessages). */
  @Override
  public long readHighestSequenceNr(int nid) {
    return Math.max(super.readHighestSequenceNr(nid), lastMessageSeqNr(nid));
  }

  /** The sequence number of the entity's last message key, 0 when it has none. */
  private long lastMessageSeqNr(int nid) {
    return withIterator(it -> {
      it.seek(Key$.MODULE$.keyToBytes(new Key(nid + 1, 0L, 0)));
      Map.Entry<byte[], byte[]> before;
      if (it.hasNext()) {
        if (!it.hasPrev()) return 0L;
        before = it.peekPrev();
      } else {
        it.seekToLast();
        if (!it.hasNext()) return 0L;
        before = it.peekNext();
      }
      Key k = Key$.MODULE$.keyFromBytes(before.getKey());
      return k.persistenceId() == nid ? k.sequenceNr() : 0L;
    });
  }

  /** A topic's published messages with one copy of their bodies (MessagesAppendedRecord); the rest as Pekko. */
  @Override
  public byte[] persistentToBytes(PersistentRepr p) {
    if (p.payload() instanceof Topic.MessagesAppended e && p.sender() == null && p.metadata().isEmpty()
        && serialization().findSerializerFor(e) instanceof MessagesAppendedSerializer s) {
      return MessagesAppendedRecord.toBytes(p, e, s.identifier(), s.manifest(e));
    }
    return super.persistentToBytes(p);
  }

  /** After the entity's last write in flight, if any (see the class comment). */
  @Override
  public Future<Object> asyncReadHighestSequenceNr(String persistenceId, long fromSequenceNr) {
    Future<?> pending = inFlight.get(persistenceId);
    if (pending == null) return super.asyncReadHighestSequenceNr(persistenceId, fromSequenceNr);
    return pending.transformWith(done -> super.asyncReadHighestSequenceNr(persistenceId, fromSequenceNr),
        scala.concurrent.ExecutionContext.parasitic$.MODULE$);
  }

  /** Pekko's deletion; one that removes the entity's last message keeps its number in the counter first. */
  @Override
  public Future<BoxedUnit> asyncDeleteMessagesTo(String persistenceId, long toSequenceNr) {
    return onWriter(() -> {
      int nid = numericId(persistenceId);
      long last = lastMessageSeqNr(nid);
      if (toSequenceNr >= last && last > super.readHighestSequenceNr(nid)) {
        leveldb().put(Key$.MODULE$.keyToBytes(Key$.MODULE$.counterKey(nid)), Key$.MODULE$.counterToBytes(last),
            leveldbWriteOptions());
      }
      return super.asyncDeleteMessagesTo(persistenceId, toSequenceNr);
    });
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
      if (trash != null) trash.close();
    }
  }
}
