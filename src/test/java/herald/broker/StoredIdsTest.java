package herald.broker;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * StoredIds against the plainest model of what it promises: a map in the order ids were stored,
 * an id stored again moving to the young end, the oldest forgotten once out of the window or past
 * the count. Random ids from a small pool, so ids repeat, expire, come back and are evicted in
 * every combination; the ring grows and wraps many times.
 */
class StoredIdsTest {

  /** The model: LinkedHashMap in insertion order. */
  static final class Model {
    final LinkedHashMap<String, Long> storedAt = new LinkedHashMap<>();
    long forgottenEarly;

    boolean contains(String id, long now, long window) {
      Long at = storedAt.get(id);
      return at != null && now - at < window;
    }

    void add(String id, long at, long window, int maxIds) {
      if (window <= 0 || maxIds <= 0) {
        storedAt.clear();
        return;
      }
      storedAt.remove(id);
      storedAt.put(id, at);
      Iterator<Map.Entry<String, Long>> oldest = storedAt.entrySet().iterator();
      while (oldest.hasNext()) {
        boolean expired = at - oldest.next().getValue() >= window;
        if (!expired && storedAt.size() <= maxIds) break;
        if (!expired) forgottenEarly++;
        oldest.remove();
      }
    }
  }

  private static void check(Model model, StoredIds ids) {
    assertEquals(new ArrayList<>(model.storedAt.keySet()), ids.ids());
    List<Long> times = new ArrayList<>();
    for (long t : ids.at()) times.add(t);
    assertEquals(new ArrayList<>(model.storedAt.values()), times);
    assertEquals(model.storedAt.size(), ids.size());
    assertEquals(model.forgottenEarly, ids.forgottenEarly());
  }

  @Test
  void behavesLikeAnInsertionOrderedMapUnderRandomWrites() {
    Random random = new Random(4151);
    for (int round = 0; round < 20; round++) {
      int pool = 1 + random.nextInt(3000);
      int maxIds = 1 + random.nextInt(1500);
      long window = 1 + random.nextInt(5000);
      Model model = new Model();
      StoredIds ids = new StoredIds();
      long now = 1_700_000_000_000L;
      for (int i = 0; i < 20_000; i++) {
        // Mostly forward in time, sometimes back (clocks of two nodes), as publish times may go.
        now += random.nextInt(10) - 1;
        String id = "id-" + random.nextInt(pool);
        assertEquals(model.contains(id, now, window), ids.contains(id, now, window), id);
        if (random.nextInt(4) > 0) {
          model.add(id, now, window, maxIds);
          ids.add(id, now, window, maxIds);
        }
        if (i % 997 == 0) {
          check(model, ids);
          StoredIds copy = ids.copy();
          check(model, copy);
          // A snapshot read back is the same ids in the same order.
          check(model, new StoredIds(ids.ids(), ids.at(), ids.forgottenEarly()));
        }
      }
      check(model, ids);
      for (int k = 0; k < pool; k++) {
        String id = "id-" + k;
        assertEquals(model.contains(id, now, window), ids.contains(id, now, window), id);
      }
    }
  }

  @Test
  void aCopyGoesItsOwnWay() {
    StoredIds ids = new StoredIds();
    for (int i = 0; i < 100; i++) ids.add("a" + i, i, 1_000, 1_000);
    StoredIds copy = ids.copy();
    ids.add("b", 200, 1_000, 1_000);
    assertEquals(100, copy.size());
    assertEquals(false, copy.contains("b", 200, 1_000));
    assertEquals(true, ids.contains("b", 200, 1_000));
  }

  @Test
  void aWindowOfZeroKeepsNothing() {
    StoredIds ids = new StoredIds();
    ids.add("a", 1, 1_000, 10);
    ids.add("b", 2, 0, 10);
    assertEquals(0, ids.size());
    assertEquals(false, ids.contains("a", 3, 1_000));
    ids.add("c", 4, 1_000, 10);
    assertEquals(List.of("c"), ids.ids());
  }
}
