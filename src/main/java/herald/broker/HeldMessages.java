package herald.broker;

import java.util.ArrayList;
import java.util.List;

/**
 * What an ephemeral topic holds for its first channel: it cannot read its messages back, so it
 * keeps its pushes, as NSQ does, up to mem-queue-size messages; a push that would go past that is
 * dropped whole.
 */
final class HeldMessages {
  private final long limit;
  private final List<Channel.Push> pushes = new ArrayList<>();
  private long count;

  HeldMessages(long limit) {
    this.limit = limit;
  }

  void hold(Channel.Push push) {
    int size = push.batch().messages().size();
    if (count + size > limit) return;
    pushes.add(push);
    count += size;
  }

  /** Everything held, in order, now given to a channel: none is held any more. */
  List<Channel.Push> takeAll() {
    List<Channel.Push> all = List.copyOf(pushes);
    drop();
    return all;
  }

  void drop() {
    pushes.clear();
    count = 0;
  }

  /** The messages held. */
  long count() {
    return count;
  }

  boolean isEmpty() {
    return pushes.isEmpty();
  }
}
