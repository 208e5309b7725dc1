package herald.broker;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The dedup ids a topic stored lately, oldest first, with the time each was stored (the message's
 * publish timestamp). Part of the topic's state, so of its snapshot: the ids survive a restart and
 * a move to another node like the messages do. Bounded by the window (an id older than it is
 * forgotten) and by a count: past {@code maxIds}, the oldest ids are forgotten before their window
 * ends, and counted in {@link #forgottenEarly()}.
 *
 * <p>Mutable, for speed (one map update per message instead of a copy of the map per write): it is
 * changed only by the topic's event handler, and the topic snapshots a {@link #copy()}.
 */
public final class StoredIds {
  private final LinkedHashMap<String, Long> storedAt;
  private long forgottenEarly;

  public StoredIds() {
    this.storedAt = new LinkedHashMap<>();
  }

  @JsonCreator
  StoredIds(@JsonProperty("ids") List<String> ids, @JsonProperty("at") long[] at,
            @JsonProperty("forgottenEarly") long forgottenEarly) {
    this.storedAt = new LinkedHashMap<>(Math.max(16, ids == null ? 0 : ids.size() * 2));
    if (ids != null) for (int i = 0; i < ids.size(); i++) storedAt.put(ids.get(i), at[i]);
    this.forgottenEarly = forgottenEarly;
  }

  /** True when {@code id} was stored less than {@code windowMs} before {@code now}. */
  public boolean contains(String id, long now, long windowMs) {
    Long at = storedAt.get(id);
    return at != null && now - at < windowMs;
  }

  /**
   * Remembers {@code id} as stored at {@code at}, then forgets what the window and the count no
   * longer keep. Deterministic in its arguments: replaying the same writes gives the same ids.
   */
  public void add(String id, long at, long windowMs, int maxIds) {
    if (windowMs <= 0 || maxIds <= 0) {
      storedAt.clear();
      return;
    }
    // Stored again after its window: it moves to the young end.
    storedAt.remove(id);
    storedAt.put(id, at);
    Iterator<Map.Entry<String, Long>> oldest = storedAt.entrySet().iterator();
    while (oldest.hasNext()) {
      boolean expired = at - oldest.next().getValue() >= windowMs;
      if (!expired && storedAt.size() <= maxIds) break;
      if (!expired) forgottenEarly++;
      oldest.remove();
    }
  }

  public int size() {
    return storedAt.size();
  }

  /** Ids forgotten before their window ended because the count limit was reached. */
  @JsonProperty("forgottenEarly")
  public long forgottenEarly() {
    return forgottenEarly;
  }

  @JsonProperty("ids")
  List<String> ids() {
    return new ArrayList<>(storedAt.keySet());
  }

  @JsonProperty("at")
  long[] at() {
    long[] at = new long[storedAt.size()];
    int i = 0;
    for (long t : storedAt.values()) at[i++] = t;
    return at;
  }

  /** An independent copy, for a snapshot that is serialized while the topic goes on. */
  public StoredIds copy() {
    return new StoredIds(ids(), at(), forgottenEarly);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StoredIds other && storedAt.equals(other.storedAt) && forgottenEarly == other.forgottenEarly;
  }

  @Override
  public int hashCode() {
    return storedAt.hashCode();
  }

  @Override
  public String toString() {
    return "StoredIds(" + storedAt.size() + " ids, " + forgottenEarly + " forgotten early)";
  }
}
