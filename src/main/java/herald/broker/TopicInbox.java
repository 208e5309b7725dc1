package herald.broker;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;
import scala.concurrent.ExecutionContext;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The publishes waiting for the next write of a topic that runs on this node: group commit with no
 * actor between the publisher and the topic. A publisher queues its publish here and wakes the
 * topic (one {@link Topic.Drain} at a time); the topic takes all that waits as one write once the
 * write before it is done, and answers each publisher itself. This is the same group commit as
 * {@link PublishBatcher}'s without its two hand-offs and the ask through sharding; the batcher
 * remains the way to a topic that runs elsewhere (or not yet).
 */
final class TopicInbox {

  /**
   * One publish and its answer. It is answered once: by the topic after the write, or at its
   * deadline (epoch ms; at most {@link #SWEEP_EVERY} after it) by the inbox's sweep, which tells whether the topic had taken it into a write.
   */
  static final class Waiting extends AtomicInteger implements GroupCommit.Waiting {
    private static final int QUEUED = 0;
    private static final int TAKEN = 1;
    private static final int ANSWERED = 2;

    private final List<Published> messages;
    private final long deadline;
    private final CompletableFuture<Topic.Appended> result;

    Waiting(List<Published> messages, long deadline, CompletableFuture<Topic.Appended> result) {
      this.messages = messages;
      this.deadline = deadline;
      this.result = result;
    }

    @Override
    public List<Published> messages() {
      return messages;
    }

    @Override
    public long deadline() {
      return deadline;
    }

    CompletableFuture<Topic.Appended> result() {
      return result;
    }

    /** The topic puts it in a write: from now on its outcome at the deadline is unknown. */
    @Override
    public boolean take() {
      return compareAndSet(QUEUED, TAKEN);
    }

    /** Gives it back untaken (so the sweep would call it not stored), for another way to its topic. */
    boolean untake() {
      return compareAndSet(QUEUED, ANSWERED);
    }

    @Override
    public void answer(Topic.Appended appended) {
      if (getAndSet(ANSWERED) != ANSWERED) result.complete(appended);
    }

    @Override
    public void refuse(RuntimeException failure) {
      if (getAndSet(ANSWERED) != ANSWERED) result.completeExceptionally(failure);
    }

    boolean answered() {
      return get() == ANSWERED;
    }

    /** The deadline passed: never in a write means never stored; in one, it may be stored. */
    void expire() {
      if (compareAndSet(QUEUED, ANSWERED)) {
        result.completeExceptionally(new Publisher.NotStored("the topic did not take the write in time"));
      } else if (compareAndSet(TAKEN, ANSWERED)) {
        result.completeExceptionally(
            new Publisher.OutcomeUnknown("the journal did not confirm the write in time; it may be stored"));
      }
    }
  }

  /**
   * How often the sweep runs while anything here is unanswered: it forgets what was answered (so
   * that answered publishes are not kept) and answers what reached its deadline. A publish's
   * deadline is seconds away, so the sweep usually wakes at this pace, not at a deadline.
   */
  static final Duration SWEEP_EVERY = Duration.ofMillis(100);

  private final Scheduler scheduler;
  private final ExecutionContext executor;
  // Every publish offered here and not yet seen answered by the sweep, queued or in a write.
  private final ConcurrentLinkedQueue<Waiting> unanswered = new ConcurrentLinkedQueue<>();
  // A sweep is scheduled (or running).
  private final AtomicBoolean sweeping = new AtomicBoolean();
  private final ConcurrentLinkedQueue<Waiting> queue = new ConcurrentLinkedQueue<>();
  // A Drain is on its way to the topic or it is writing: publishers need not wake it.
  private final AtomicBoolean woken = new AtomicBoolean();
  private volatile ActorRef<Topic.Command> topic;
  // How many publishes the topic waits for before its next write (0: it does not).
  private final AtomicInteger gathering = new AtomicInteger();

  /** Deadlines are kept by one sweep on {@code scheduler}, run on {@code executor}. */
  TopicInbox(Scheduler scheduler, ExecutionContext executor) {
    this.scheduler = scheduler;
    this.executor = executor;
  }

  /** Queues {@code w} for the topic running here; false (and not queued) when none runs. */
  boolean offer(Waiting w) {
    ActorRef<Topic.Command> running = topic;
    if (running == null) return false;
    unanswered.add(w);
    if (!sweeping.get()) sweepIn(Math.min(SWEEP_EVERY.toMillis(), Math.max(0, w.deadline - System.currentTimeMillis())));
    queue.add(w);
    int wanted = gathering.get();
    if (wanted > 0 && queue.size() >= wanted && gathering.compareAndSet(wanted, 0)) running.tell(Topic.Drain.INSTANCE);
    else wake(running);
    // The topic stopped meanwhile: if it did not take w, w goes the other way.
    return topic == running || !queue.remove(w);
  }

  private void wake(ActorRef<Topic.Command> running) {
    if (woken.compareAndSet(false, true)) running.tell(Topic.Drain.INSTANCE);
  }

  /** The next write: what waits, as GroupCommit takes it; null when nothing does. */
  GroupCommit.Write<Waiting> take(long now) {
    return GroupCommit.next(queue, now);
  }

  /** The topic's write is done (or it found nothing to write): what came meanwhile wakes it again. */
  void done() {
    woken.set(false);
    ActorRef<Topic.Command> running = topic;
    if (running != null && !queue.isEmpty()) wake(running);
  }

  /** The topic (a new incarnation, or restarted) runs and takes publishes from now on. */
  void attach(ActorRef<Topic.Command> self) {
    topic = self;
    gathering.set(0);
    woken.set(false);
    if (!queue.isEmpty()) wake(self);
  }

  /** The topic stopped: it takes nothing more; returns what waited, given back untaken. */
  List<Waiting> detach(ActorRef<Topic.Command> self) {
    if (!self.equals(topic)) return List.of();
    topic = null;
    List<Waiting> left = new ArrayList<>();
    Waiting w;
    while ((w = queue.poll()) != null) {
      if (w.untake()) left.add(w);
    }
    return left;
  }

  /** Publishes waiting for the next write (the queue's own count: one step per publish, and they are few). */
  int size() {
    return queue.size();
  }

  /**
   * The topic waits for {@code count} publishes before its next write (see {@link Gathering}): the
   * publish that makes them that many sends it a Drain, or {@link #gatherOver} does. False, and no
   * wait, if that many wait already.
   */
  boolean gather(int count) {
    gathering.set(count);
    return queue.size() < count || !gathering.compareAndSet(count, 0);
  }

  /** The wait's time is up: if it is still on, the topic that runs here writes what waits. */
  void gatherOver() {
    ActorRef<Topic.Command> running = topic;
    if (gathering.getAndSet(0) > 0 && running != null) running.tell(Topic.Drain.INSTANCE);
  }

  boolean isAttached() {
    return topic != null;
  }

  private void sweepIn(long ms) {
    if (sweeping.compareAndSet(false, true)) scheduler.scheduleOnce(Duration.ofMillis(ms), this::sweep, executor);
  }

  /** Answers what reached its deadline unanswered, forgets what was answered; again while anything is left. */
  private void sweep() {
    long now = System.currentTimeMillis();
    long next = now + SWEEP_EVERY.toMillis();
    for (Iterator<Waiting> i = unanswered.iterator(); i.hasNext(); ) {
      Waiting w = i.next();
      if (w.deadline <= now) w.expire();
      if (w.answered()) i.remove();
      else next = Math.min(next, w.deadline);
    }
    sweeping.set(false);
    if (!unanswered.isEmpty()) sweepIn(Math.max(0, next - now));
  }
}
