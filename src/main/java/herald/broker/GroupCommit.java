package herald.broker;

import java.util.ArrayList;
import java.util.List;
import java.util.Queue;

/**
 * Group commit of a topic's publishes: what waits becomes the next write, in order, and each
 * publisher is answered after it. One piece for both ways to a topic: {@link PublishBatcher} (a
 * topic elsewhere, through sharding) and {@link TopicInbox} (a topic on this node takes its
 * writes itself).
 */
final class GroupCommit {
  static final int MAX_BYTES = 4 * 1024 * 1024;
  static final int MAX_MESSAGES = 20_000;

  private GroupCommit() {}

  /** A publish waiting for a write; answered once. */
  interface Waiting {
    List<Published> messages();

    /** Epoch ms by which it is answered. */
    long deadline();

    /** It goes into a write now; false if it was answered meanwhile (at its deadline): it is left out. */
    boolean take();

    void answer(Topic.Appended appended);

    void refuse(RuntimeException failure);
  }

  /** One write: its publishes in order, all their messages, and the earliest of their deadlines. */
  record Write<W extends Waiting>(List<W> publishes, List<Published> messages, long deadline) {
    /** The topic names duplicates by their place in the whole write; each publisher hears of its own. */
    void answer(Topic.Appended appended) {
      if (publishes.size() == 1) {
        publishes.get(0).answer(appended);
        return;
      }
      int[] sizes = new int[publishes.size()];
      for (int i = 0; i < sizes.length; i++) sizes[i] = publishes.get(i).messages().size();
      Topic.Appended[] answers = appended.split(sizes);
      for (int i = 0; i < answers.length; i++) publishes.get(i).answer(answers[i]);
    }

    void refuse(RuntimeException failure) {
      for (W w : publishes) w.refuse(failure);
    }
  }

  /**
   * The next write from {@code waiting}: in order, up to {@link #MAX_BYTES} of bodies and
   * {@link #MAX_MESSAGES} (the first is always taken); null when nothing is left to write. A
   * publish with less than {@link PublishBatcher#HANDED_MARGIN} left before its deadline is
   * refused instead: the topic would start its write too late, so it is certainly not stored.
   */
  static <W extends Waiting> Write<W> next(Queue<W> waiting, long now) {
    List<W> publishes = new ArrayList<>();
    List<Published> messages = null;
    long bytes = 0;
    long deadline = Long.MAX_VALUE;
    W next;
    while ((next = waiting.peek()) != null) {
      if (next.deadline() - PublishBatcher.HANDED_MARGIN.toMillis() <= now) {
        waiting.poll();
        next.refuse(new Publisher.NotStored("no time left to write it"));
        continue;
      }
      long size = Published.bodyBytes(next.messages());
      int count = messages == null ? 0 : messages.size();
      if (!publishes.isEmpty() && (bytes + size > MAX_BYTES || count + next.messages().size() > MAX_MESSAGES)) break;
      waiting.poll();
      if (!next.take()) continue;
      if (messages == null) {
        messages = next.messages();
      } else {
        if (publishes.size() == 1) messages = new ArrayList<>(messages);
        messages.addAll(next.messages());
      }
      publishes.add(next);
      bytes += size;
      deadline = Math.min(deadline, next.deadline());
    }
    return publishes.isEmpty() ? null : new Write<>(publishes, messages, deadline);
  }
}
