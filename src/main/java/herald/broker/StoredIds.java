package herald.broker;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The dedup ids a topic stored lately, oldest first, with the time each was stored (the message's
 * publish timestamp). Part of the topic's state, so of its snapshot: the ids survive a restart and
 * a move to another node like the messages do. Bounded by the window (an id older than it is
 * forgotten) and by a count: past {@code maxIds}, the oldest ids are forgotten before their window
 * ends, and counted in {@link #forgottenEarly()}.
 *
 * <p>Mutable, for speed (one update per message instead of a copy per write): it is changed only by
 * the topic's event handler, and the topic snapshots a {@link #copy()}. Up to --dedup-max-ids
 * (100,000) ids live here for minutes, so it holds no object per id but the id itself: the ids
 * and their times sit in a ring in the order stored, found through an open-addressing index of
 * ring positions. (A map entry and a boxed time per id made every young collection copy them, and
 * a snapshot rebuild a map of them.) Ids are often sequential ("order-1041", "order-1042"), and so
 * are their String hashes: the index mixes every hash (as murmur3's finalizer does) before it picks
 * a home, or sequential ids would fill runs of neighbouring homes and linear probing would walk
 * them on every lookup (measured: 35 % of a node's CPU at 100,000 ids, issue 14). The mixed hash is
 * kept per ring slot, so a probe compares ids only when hashes match and a deletion moves entries
 * without touching the strings.
 */
public final class StoredIds {
  private static final int EMPTY = -1;

  // The ring: entry number n (counting every entry ever added) sits at n & (ids.length - 1); the
  // entries from head to tail are kept, oldest first. An entry stored again moved to the young end
  // and left a null behind.
  private String[] ring;
  private long[] times;
  private int[] hashes;
  private long head;
  private long tail;
  private int size;
  // Ring slots by hash, linear probing; EMPTY where none. At most half full.
  private int[] index;
  private long forgottenEarly;

  public StoredIds() {
    this(16);
  }

  private StoredIds(int capacity) {
    ring = new String[capacity];
    times = new long[capacity];
    hashes = new int[capacity];
    index = new int[capacity * 2];
    Arrays.fill(index, EMPTY);
  }

  private StoredIds(StoredIds of) {
    ring = of.ring.clone();
    times = of.times.clone();
    hashes = of.hashes.clone();
    index = of.index.clone();
    head = of.head;
    tail = of.tail;
    size = of.size;
    forgottenEarly = of.forgottenEarly;
  }

  @JsonCreator
  StoredIds(@JsonProperty("ids") List<String> ids, @JsonProperty("at") long[] at,
            @JsonProperty("forgottenEarly") long forgottenEarly) {
    this(capacityFor(ids == null ? 0 : ids.size()));
    if (ids != null) for (int i = 0; i < ids.size(); i++) append(ids.get(i), at[i]);
    this.forgottenEarly = forgottenEarly;
  }

  private static int capacityFor(int count) {
    return Math.max(16, Integer.highestOneBit(Math.max(1, count) * 2 - 1) * 2);
  }

  /** True when {@code id} was stored less than {@code windowMs} before {@code now}. */
  public boolean contains(String id, long now, long windowMs) {
    int slot = find(id);
    return slot != EMPTY && now - times[slot] < windowMs;
  }

  /**
   * Remembers {@code id} as stored at {@code at}, then forgets what the window and the count no
   * longer keep. Deterministic in its arguments: replaying the same writes gives the same ids.
   */
  public void add(String id, long at, long windowMs, int maxIds) {
    if (windowMs <= 0 || maxIds <= 0) {
      clear();
      return;
    }
    // Stored again after its window: it moves to the young end.
    int slot = find(id);
    if (slot != EMPTY) remove(slot);
    append(id, at);
    while (head < tail) {
      int oldest = ringSlot(head);
      String old = ring[oldest];
      if (old == null) {
        head++;
        continue;
      }
      boolean expired = at - times[oldest] >= windowMs;
      if (!expired && size <= maxIds) break;
      if (!expired) forgottenEarly++;
      remove(oldest);
      head++;
    }
  }

  public int size() {
    return size;
  }

  /** Ids forgotten before their window ended because the count limit was reached. */
  @JsonProperty("forgottenEarly")
  public long forgottenEarly() {
    return forgottenEarly;
  }

  @JsonProperty("ids")
  List<String> ids() {
    List<String> list = new ArrayList<>(size);
    for (long n = head; n < tail; n++) {
      String id = ring[ringSlot(n)];
      if (id != null) list.add(id);
    }
    return list;
  }

  @JsonProperty("at")
  long[] at() {
    long[] all = new long[size];
    int i = 0;
    for (long n = head; n < tail; n++) {
      int slot = ringSlot(n);
      if (ring[slot] != null) all[i++] = times[slot];
    }
    return all;
  }

  /** An independent copy, for a snapshot that is serialized while the topic goes on. */
  public StoredIds copy() {
    return new StoredIds(this);
  }

  private int ringSlot(long n) {
    return (int) (n & (ring.length - 1));
  }

  /** murmur3's 32-bit finalizer: every bit of the hash moves every bit of the result. */
  private static int mix(String id) {
    int h = id.hashCode();
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    return h ^ (h >>> 16);
  }

  /** The ring slot of {@code id}, or EMPTY. */
  private int find(String id) {
    int hash = mix(id);
    int mask = index.length - 1;
    for (int i = hash & mask; ; i = (i + 1) & mask) {
      int slot = index[i];
      if (slot == EMPTY) return EMPTY;
      if (hashes[slot] == hash && id.equals(ring[slot])) return slot;
    }
  }

  private void append(String id, long time) {
    if (tail - head == ring.length) grow();
    int slot = ringSlot(tail++);
    int hash = mix(id);
    ring[slot] = id;
    times[slot] = time;
    hashes[slot] = hash;
    size++;
    int mask = index.length - 1;
    int i = hash & mask;
    while (index[i] != EMPTY) i = (i + 1) & mask;
    index[i] = slot;
  }

  /** Forgets the entry at ring slot {@code slot}: a null in the ring, and out of the index. */
  private void remove(int slot) {
    ring[slot] = null;
    size--;
    int mask = index.length - 1;
    int i = hashes[slot] & mask;
    while (index[i] != slot) i = (i + 1) & mask;
    // Backward-shift deletion: entries after the hole that could sit in it move up, so every entry
    // stays reachable from its home without markers.
    int hole = i;
    for (int j = (hole + 1) & mask; index[j] != EMPTY; j = (j + 1) & mask) {
      int home = hashes[index[j]] & mask;
      boolean movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        index[hole] = index[j];
        hole = j;
      }
    }
    index[hole] = EMPTY;
  }

  /** Twice the room: the kept entries are laid out again from ring position 0. */
  private void grow() {
    String[] oldIds = ring;
    long[] oldAt = times;
    long oldHead = head;
    long oldTail = tail;
    int oldMask = oldIds.length - 1;
    ring = new String[oldIds.length * 2];
    times = new long[oldIds.length * 2];
    hashes = new int[oldIds.length * 2];
    index = new int[ring.length * 2];
    Arrays.fill(index, EMPTY);
    head = 0;
    tail = 0;
    size = 0;
    for (long n = oldHead; n < oldTail; n++) {
      int slot = (int) (n & oldMask);
      if (oldIds[slot] != null) append(oldIds[slot], oldAt[slot]);
    }
  }

  private void clear() {
    Arrays.fill(ring, null);
    Arrays.fill(index, EMPTY);
    head = 0;
    tail = 0;
    size = 0;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StoredIds other && forgottenEarly == other.forgottenEarly
        && ids().equals(other.ids()) && Arrays.equals(at(), other.at());
  }

  @Override
  public int hashCode() {
    return ids().hashCode();
  }

  @Override
  public String toString() {
    return "StoredIds(" + size + " ids, " + forgottenEarly + " forgotten early)";
  }
}
