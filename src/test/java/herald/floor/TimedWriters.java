package herald.floor;

import com.typesafe.config.Config;
import org.apache.pekko.dispatch.DispatcherPrerequisites;
import org.apache.pekko.dispatch.ExecutorServiceConfigurator;
import org.apache.pekko.dispatch.ExecutorServiceFactory;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The journal's writer threads (persistence.conf's {@code writers}, a fixed pool as shipped) with
 * each task timed: how long it waited for a writer thread, and how long it ran (serialization,
 * LevelDB's write and fsync). By hand only, for the write cycle's parts; in a node or PubFloor:
 * {@code -Dpekko.persistence.journal.leveldb.writers.executor=herald.floor.TimedWriters} with
 * target/test-classes on the class path. Prints every 5 s; {@link #last()} is the latest task's
 * times, for PubFloor's one entity, which has one write at a time.
 */
public final class TimedWriters extends ExecutorServiceConfigurator {
  private final int threads;

  /** Submitted, started, ended (System.nanoTime; 0 while it runs) of the latest task. */
  record Times(long submitted, long started, long ended) {}

  private static volatile Times last = new Times(0, 0, 0);
  private static final Object LOCK = new Object();
  private static long tasks, waited, ran, since = System.nanoTime();

  public TimedWriters(Config config, DispatcherPrerequisites prerequisites) {
    super(config, prerequisites);
    threads = config.hasPath("thread-pool-executor.fixed-pool-size")
        ? config.getInt("thread-pool-executor.fixed-pool-size") : 16;
  }

  static Times last() {
    return last;
  }

  @Override
  public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
    return () -> new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), threadFactory) {
      @Override
      public void execute(Runnable task) {
        long submitted = System.nanoTime();
        super.execute(() -> {
          long started = System.nanoTime();
          // The task completes the write's future, and the entity may hear of it before the line after
          // the run: until then the latest times have no end (0).
          last = new Times(submitted, started, 0);
          task.run();
          long ended = System.nanoTime();
          last = new Times(submitted, started, ended);
          count(started - submitted, ended - started, ended);
        });
      }
    };
  }

  private static void count(long wait, long run, long now) {
    synchronized (LOCK) {
      tasks++;
      waited += wait;
      ran += run;
      if (now - since < 5_000_000_000L) return;
      System.out.printf("writers: %d tasks/s, waited for a thread %.3f ms, ran %.3f ms (mean)%n",
          tasks * 1_000_000_000L / (now - since), waited / 1e6 / tasks, ran / 1e6 / tasks);
      tasks = waited = ran = 0;
      since = now;
    }
  }
}
