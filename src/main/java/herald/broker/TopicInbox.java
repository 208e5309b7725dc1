package herald.broker;

import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.typed.ActorRef;

import java.util.ArrayList;
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
   * deadline (epoch ms) by a timer, which tells whether the topic had taken it into a write.
   */
  static final class Waiting extends AtomicInteger {
    private static final int QUEUED = 0;
    private static final int TAKEN = 1;
    private static final int ANSWERED = 2;

    final List<Published> messages;
    final long deadline;
    final CompletableFuture<Topic.Appended> result;
    private volatile Cancellable timer;

    Waiting(List<Published> messages, long deadline, CompletableFuture<Topic.Appended> result) {
      this.messages = messages;
      this.deadline = deadline;
      this.result = result;
    }

    void timer(Cancellable timer) {
      this.timer = timer;
    }

    /** The topic puts it in a write: from now on its outcome at the deadline is unknown. */
    boolean take() {
      return compareAndSet(QUEUED, TAKEN);
    }

    /** Gives it back untaken (so the timer would call it not stored), for another way to its topic. */
    boolean untake() {
      if (!compareAndSet(QUEUED, ANSWERED)) return false;
      cancelTimer();
      return true;
    }

    void answer(Topic.Appended appended) {
      if (getAndSet(ANSWERED) == ANSWERED) return;
      cancelTimer();
      result.complete(appended);
    }

    void refuse(RuntimeException failure) {
      if (getAndSet(ANSWERED) == ANSWERED) return;
      cancelTimer();
      result.completeExceptionally(failure);
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

    private void cancelTimer() {
      Cancellable t = timer;
      if (t != null) t.cancel();
    }
  }

  private final ConcurrentLinkedQueue<Waiting> queue = new ConcurrentLinkedQueue<>();
  // A Drain is on its way to the topic or it is writing: publishers need not wake it.
  private final AtomicBoolean woken = new AtomicBoolean();
  private volatile ActorRef<Topic.Command> topic;

  /** Queues {@code w} for the topic running here; false (and not queued) when none runs. */
  boolean offer(Waiting w) {
    ActorRef<Topic.Command> running = topic;
    if (running == null) return false;
    queue.add(w);
    wake(running);
    // The topic stopped meanwhile: if it did not take w, w goes the other way.
    return topic == running || !queue.remove(w);
  }

  private void wake(ActorRef<Topic.Command> running) {
    if (woken.compareAndSet(false, true)) running.tell(Topic.Drain.INSTANCE);
  }

  /**
   * The next write: what waits, in order, up to {@code maxBytes} of bodies and {@code maxMessages}
   * (the first is always taken). A publish that has less than {@code margin} ms left before its
   * deadline is answered not stored instead: the topic would start its write too late.
   */
  List<Waiting> take(long now, long margin, long maxBytes, int maxMessages) {
    List<Waiting> batch = new ArrayList<>();
    long bytes = 0;
    int count = 0;
    Waiting next;
    while ((next = queue.peek()) != null) {
      long size = Published.bodyBytes(next.messages);
      if (!batch.isEmpty() && (bytes + size > maxBytes || count + next.messages.size() > maxMessages)) break;
      queue.poll();
      if (next.deadline - margin <= now) {
        next.refuse(new Publisher.NotStored("no time left to write it"));
      } else if (next.take()) {
        batch.add(next);
        bytes += size;
        count += next.messages.size();
      }
    }
    return batch;
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

  boolean isAttached() {
    return topic != null;
  }
}
