package herald.broker;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A channel's messages on their way to its dead-letter topic. A message is published there only
 * once the progress write that carries its last attempt is durable ({@link #written}): after a
 * crash, the channel finds it exhausted again and publishes it again under the same dedup id,
 * which the dead-letter topic stores once; it is then finished. So it is always in exactly one of
 * the two, never in neither.
 */
final class DeadLetters {
  private final List<ChannelMessage> decided = new ArrayList<>();   // waiting for a progress write
  private final List<ChannelMessage> written = new ArrayList<>();   // their attempts are durable
  private final Set<ChannelMessage> publishing = Collections.newSetFromMap(new IdentityHashMap<>());

  /** Its last attempt failed: it leaves the channel through the dead-letter topic. */
  void decide(ChannelMessage m) {
    decided.add(m);
  }

  /** A progress write with every message decided so far is being made. */
  void written() {
    written.addAll(decided);
    decided.clear();
  }

  /** The messages to publish now; none while a publish runs (one at a time, in order). */
  List<ChannelMessage> takeToPublish() {
    if (!publishing.isEmpty() || written.isEmpty()) return List.of();
    List<ChannelMessage> out = new ArrayList<>(written);
    written.clear();
    publishing.addAll(out);
    return out;
  }

  /** Stored in the dead-letter topic. False when the channel forgot it meanwhile (emptied). */
  boolean published(ChannelMessage m) {
    return publishing.remove(m);
  }

  /** The publish failed: they are tried again. */
  void failed(List<ChannelMessage> messages) {
    List<ChannelMessage> back = new ArrayList<>();
    for (ChannelMessage m : messages) if (publishing.remove(m)) back.add(m);
    written.addAll(0, back);
  }

  boolean isEmpty() {
    return decided.isEmpty() && written.isEmpty() && publishing.isEmpty();
  }

  int size() {
    return decided.size() + written.size() + publishing.size();
  }

  void forEach(Consumer<ChannelMessage> action) {
    decided.forEach(action);
    written.forEach(action);
    publishing.forEach(action);
  }

  void clear() {
    decided.clear();
    written.clear();
    publishing.clear();
  }

  /** The dead-letter topic's copy: the same body, under the id that names where it came from. */
  static Published copy(String topic, String channel, ChannelMessage m, long now) {
    return new Published(m.body, now, 0, DedupId.ofPosition(topic, channel, m.offset));
  }
}
