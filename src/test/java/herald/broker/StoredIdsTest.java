package herald.broker;

import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

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

  /** One round of a random test: a pool of ids, the limits, and a model and a StoredIds, both empty. */
  private record Round(int pool, int maxIds, long window, Model model, StoredIds ids) {
    static Round of(Random random, int pools, int maxIds, int windows) {
      return new Round(1 + random.nextInt(pools), 1 + random.nextInt(maxIds), 1 + random.nextInt(windows), new Model(),
          new StoredIds());
    }
  }

  private static final long START = 1_700_000_000_000L;

  @Test
  void behavesLikeAnInsertionOrderedMapUnderRandomWrites() {
    Random random = new Random(4151);
    for (int r = 0; r < 20; r++) {
      Round round = Round.of(random, 3000, 1500, 5000);
      int pool = round.pool();
      int maxIds = round.maxIds();
      long window = round.window();
      Model model = round.model();
      StoredIds ids = round.ids();
      long now = START;
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
  void aWritesDuplicatesAreItsStoredIdsAndItsRepeats() {
    Random random = new Random(14);
    for (int r = 0; r < 20; r++) {
      Round round = Round.of(random, 400, 300, 500);
      long now = START;
      for (int w = 0; w < 400; w++) {
        now += random.nextInt(5);
        List<Published> write = new ArrayList<>();
        List<Integer> expected = new ArrayList<>();
        Set<String> inWrite = new HashSet<>();
        for (int i = 0, n = 1 + random.nextInt(40); i < n; i++) {
          String id = random.nextInt(5) == 0 ? null : "id-" + random.nextInt(round.pool());
          long at = now + random.nextInt(3) - 1; // the messages of one write need not share a time
          write.add(new Published(ByteString.emptyByteString(), at, 0, id));
          if (id != null && (round.model().contains(id, at, round.window()) || !inWrite.add(id))) expected.add(i);
        }
        assertEquals(expected, round.ids().duplicates(write, round.window()));
        // Then stored, as the topic's event handler stores a write's other messages.
        for (int i = 0; i < write.size(); i++) {
          Published m = write.get(i);
          if (m.dedupId() == null || expected.contains(i)) continue;
          round.model().add(m.dedupId(), m.timestamp(), round.window(), round.maxIds());
          round.ids().add(m.dedupId(), m.timestamp(), round.window(), round.maxIds());
        }
      }
      check(round.model(), round.ids());
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
