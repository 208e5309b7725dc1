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
 * them on every lookup (measured: 35 % of a node's CPU at 100,000 ids, issue 14). Each index entry
 * holds the mixed hash beside the ring slot, so a probe reads one array: it compares ids only when
 * hashes match and a deletion moves entries without touching anything else. At 100,000 ids the
 * arrays are megabytes that the other work of the node pushes out of the caches between two writes,
 * so what a message costs here is mostly cache misses: one probe per lookup, one per insertion and
 * one per eviction (a profile of /mpub with ids, issue 14: with the hash in a second array, a probe
 * touched both, and lookups and evictions took about a quarter of the node's Java samples).
 */
public final class StoredIds {
  private static final long EMPTY = -1;

  // The ring: entry number n (counting every entry ever added) sits at n & (ids.length - 1); the
  // entries from head to tail are kept, oldest first. An entry stored again moved to the young end
  // and left a null behind.
  private String[] ring;
  private long[] times;
  private int[] hashes;
  private long head;
  private long tail;
  private int size;
  // (mixed hash << 32) | ring slot, by hash, linear probing; EMPTY where none. At most half full.
  private long[] index;
  private long forgottenEarly;

  public StoredIds() {
    this(16);
  }

  private StoredIds(int capacity) {
    ring = new String[capacity];
    times = new long[capacity];
    hashes = new int[capacity];
    index = new long[capacity * 2];
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
    int at = probe(id, mix(id));
    return at >= 0 && now - times[(int) index[at]] < windowMs;
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
    if (tail - head == ring.length) grow();
    int hash = mix(id);
    int where = probe(id, hash);
    if (where >= 0) {
      // Stored again after its window: it moves to the young end.
      remove((int) index[where]);
      where = probe(id, hash);
    }
    append(id, hash, at, ~where);
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

  /**
   * The positions (ascending) of the messages of one write that are not to be stored: those whose
   * id was stored less than {@code windowMs} before the message's time, and those whose id an
   * earlier message of the same write carries.
   */
  public List<Integer> duplicates(List<Published> messages, long windowMs) {
    List<Integer> duplicates = List.of();
    // The write's ids so far, (mixed hash << 32) | position, as the index keeps the stored ones.
    long[] write = null;
    for (int i = 0; i < messages.size(); i++) {
      Published m = messages.get(i);
      String id = m.dedupId();
      if (id == null) continue;
      int hash = mix(id);
      int at = probe(id, hash);
      boolean repeated = at >= 0 && m.timestamp() - times[(int) index[at]] < windowMs;
      if (write == null) {
        write = new long[Integer.highestOneBit((messages.size() - i) * 4 - 1)];
        Arrays.fill(write, EMPTY);
      }
      int mask = write.length - 1;
      int j = hash & mask;
      for (long e; !repeated && (e = write[j]) != EMPTY; j = (j + 1) & mask) {
        repeated = (int) (e >>> 32) == hash && id.equals(messages.get((int) e).dedupId());
      }
      if (repeated) {
        if (duplicates.isEmpty()) duplicates = new ArrayList<>();
        duplicates.add(i);
      } else {
        write[j] = ((long) hash << 32) | i;
      }
    }
    return duplicates;
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

  /**
   * Where in the index {@code id} (whose mixed hash is {@code hash}) is; if it is not there, the
   * complement ({@code ~i}, negative) of the empty place where it would go.
   */
  private int probe(String id, int hash) {
    int mask = index.length - 1;
    for (int i = hash & mask; ; i = (i + 1) & mask) {
      long entry = index[i];
      if (entry == EMPTY) return ~i;
      if ((int) (entry >>> 32) == hash && id.equals(ring[(int) entry])) return i;
    }
  }

  private static int home(long entry, int mask) {
    return (int) (entry >>> 32) & mask;
  }

  /** Adds {@code id} at the young end; {@code place} is the empty index place its probe ended at. */
  private void append(String id, int hash, long time, int place) {
    int slot = ringSlot(tail++);
    ring[slot] = id;
    times[slot] = time;
    hashes[slot] = hash;
    size++;
    index[place] = ((long) hash << 32) | slot;
  }

  /** The same when the place is not known yet (a rebuilt index). */
  private void append(String id, long time) {
    int hash = mix(id);
    append(id, hash, time, ~probe(id, hash));
  }

  /** Forgets the entry at ring slot {@code slot}: a null in the ring, and out of the index. */
  private void remove(int slot) {
    ring[slot] = null;
    size--;
    int mask = index.length - 1;
    int i = hashes[slot] & mask;
    while ((int) index[i] != slot) i = (i + 1) & mask;
    // Backward-shift deletion: entries after the hole that could sit in it move up, so every entry
    // stays reachable from its home without markers.
    int hole = i;
    for (int j = (hole + 1) & mask; index[j] != EMPTY; j = (j + 1) & mask) {
      int home = home(index[j], mask);
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
    index = new long[ring.length * 2];
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
