package herald.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import org.apache.pekko.persistence.serialization.MessageFormats;
import org.fusesource.leveldbjni.JniDBFactory;
import org.fusesource.leveldbjni.internal.NativeDB;
import org.fusesource.leveldbjni.internal.NativeIterator;
import org.fusesource.leveldbjni.internal.NativeOptions;
import org.fusesource.leveldbjni.internal.NativeReadOptions;
import org.iq80.leveldb.DB;
import org.iq80.leveldb.Options;
import org.iq80.leveldb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.math.BigInteger;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Reads the whole LevelDB journal before the node opens it. LevelDB alone drops what it cannot
 * read without a word (a bad block, a torn log) and the node would start healthy with acknowledged
 * messages gone. So: open with paranoid checks, read every entry with its checksum, and check that
 * each topic's sequence numbers have no hole and reach as far as its counter, its snapshots and
 * its channels' progress say they did. Damage stops the start with one line; with repair, LevelDB's
 * repairer keeps what is readable and this says exactly what it could not keep.
 */
final class JournalCheck {
  private static final Logger log = LoggerFactory.getLogger(JournalCheck.class);
  private static final int MESSAGES_SERIALIZER = 4151;
  private static final String PROGRESSED = "herald.broker.Channel$Progressed";
  private static final ObjectMapper CBOR = new ObjectMapper(new CBORFactory());
  private static final Pattern SNAPSHOT = Pattern.compile("snapshot-(.+)-(\\d+)-(\\d+)");

  /** Messages of a topic that a repair could not keep: offsets from..to (to = -1: the end is unknown). */
  record Loss(String topic, long fromSeqNr, long toSeqNr, long fromOffset, long toOffset) {
    String describe() {
      String positions = toOffset < 0 ? "positions from " + fromOffset + " on (count unknown)"
          : fromOffset == toOffset ? "position " + fromOffset
          : "positions " + fromOffset + "-" + toOffset;
      String count = toOffset < 0 ? "" : ", " + (toOffset - fromOffset + 1) + " messages";
      return "topic " + topic + ": " + positions + count + " (journal writes " + fromSeqNr + "-" + toSeqNr + ")";
    }
  }

  /** What the check found; a journal with no cause is intact. */
  record Outcome(List<String> causes, List<Loss> losses, boolean repaired) {
    static final Outcome INTACT = new Outcome(List.of(), List.of(), false);

    long messagesLost() {
      return losses.stream().mapToLong(l -> l.toOffset() < 0 ? 0 : l.toOffset() - l.fromOffset() + 1).sum();
    }

    String lossSummary() {
      if (losses.isEmpty()) {
        return "no acknowledged message found missing (no counter, snapshot or channel progress names what the unreadable part held)";
      }
      List<String> parts = new ArrayList<>();
      for (Loss l : losses) parts.add(l.describe());
      return messagesLost() + " messages lost: " + String.join("; ", parts);
    }
  }

  private JournalCheck() {}

  static Outcome run(Path journal, Path snapshots, boolean repair) throws Node.StartException {
    // No CURRENT and no file of a journal: a node's first start. CURRENT gone from a journal that
    // has tables or logs is damage: LevelDB would make a new empty journal there and delete the
    // old tables, so the check goes on, names it, and a repair finds them again.
    if (!Files.exists(journal.resolve("CURRENT")) && !hasJournalFiles(journal)) return Outcome.INTACT;
    long started = System.nanoTime();
    Scan before = new Scan(Values.BUT_TOPIC_WRITES);
    before.snapshots(snapshots);
    List<String> causes = new ArrayList<>();
    if (Files.exists(journal.resolve("CURRENT"))) causes.addAll(before.read(journal, true, null));
    else causes.add(journal.resolve("CURRENT") + " is missing (it names the journal's manifest) in a journal with tables or logs");
    causes.addAll(before.holes());
    if (causes.isEmpty()) {
      log.info("journal checked: {} entries, {} topics and channels, intact ({} ms)",
          before.entries, before.ids.size(), (System.nanoTime() - started) / 1_000_000);
      return Outcome.INTACT;
    }
    // Saying which messages are lost needs the offsets in the topics' own writes, which that read
    // passed over: read those now. Everything else it found stands, the causes too.
    before.readTopicWrites(journal);
    // Everything readable is copied to a new journal, from a copy of the damaged one (opening
    // a damaged journal changes it); the damaged one is kept as it was, beside it.
    Path work = journal.resolveSibling(journal.getFileName() + ".check");
    Path salvage = journal.resolveSibling(journal.getFileName() + ".salvage");
    try {
      linkCopy(journal, work, causes);
      Scan after = new Scan(Values.ALL);
      after.snapshots = before.snapshots;
      for (String c : after.salvage(work, salvage)) {
        String own = c.replace(work.toString(), journal.toString());
        if (!causes.contains(own)) causes.add(own);
      }
      named(work, causes);
      before.ids.forEach(after.ids::putIfAbsent);
      List<Loss> losses = after.losses(before);
      Outcome outcome = new Outcome(causes, losses, repair);
      if (!repair) {
        throw new Node.StartException("journal damaged: " + String.join("; ", causes) + "; affected: "
            + outcome.lossSummary() + ". Nothing was changed; start with --journal-repair to keep what is readable and drop the rest");
      }
      after.fixUp(salvage, before);
      Path damaged = journal.resolveSibling(journal.getFileName() + ".damaged-" + System.currentTimeMillis());
      Files.move(journal, damaged);
      Files.move(salvage, journal);
      log.error("journal repaired (damaged journal kept in {}): {}; {}", damaged, String.join("; ", causes), outcome.lossSummary());
      return outcome;
    } catch (IOException e) {
      throw new Node.StartException("journal damaged: " + String.join("; ", causes) + "; repair failed: " + rootMessage(e));
    } finally {
      deleteTree(work);
      deleteTree(salvage);
    }
  }

  /** Whether {@code dir} holds any of LevelDB's tables, logs or manifests. */
  private static boolean hasJournalFiles(Path dir) throws Node.StartException {
    if (!Files.isDirectory(dir)) return false;
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(f -> f.getFileName().toString()).anyMatch(n ->
          n.endsWith(".sst") || n.endsWith(".ldb") || n.endsWith(".log") || n.startsWith("MANIFEST-"));
    } catch (IOException e) {
      throw new Node.StartException("cannot read the journal directory " + dir + ": " + rootMessage(e));
    }
  }

  private static void linkCopy(Path journal, Path copy, List<String> causes) throws Node.StartException {
    try {
      deleteTree(copy);
      Files.createDirectories(copy);
      try (Stream<Path> files = Files.list(journal)) {
        for (Path f : files.toList()) {
          String name = f.getFileName().toString();
          if (name.equals("LOCK") || Files.isDirectory(f)) continue;
          // Tables never change once written: link them. Logs and the manifest are copied.
          if (name.endsWith(".sst") || name.endsWith(".ldb")) Files.createLink(copy.resolve(name), f);
          else Files.copy(f, copy.resolve(name));
        }
      }
    } catch (IOException e) {
      throw new Node.StartException("journal damaged: " + String.join("; ", causes)
          + "; cannot work out what was lost (" + rootMessage(e) + ")");
    }
  }

  private static String journalName(Path copy) {
    String n = copy.getFileName().toString();
    return n.substring(0, n.lastIndexOf('.'));
  }

  /** LevelDB's log names the file it could not read in full: add those lines to the causes. */
  private static void named(Path dir, List<String> causes) {
    for (String name : List.of("LOG.old", "LOG")) {
      try {
        for (String line : Files.readAllLines(dir.resolve(name), StandardCharsets.ISO_8859_1)) {
          if (!line.contains("dropping") && !line.contains("Corruption")) continue;
          // The copy's file names are the journal's.
          String c = line.replaceAll("^\\S+ \\S+\\s+", "").replace("(ignoring error) ", "")
              .replace(dir.toString(), dir.resolveSibling(journalName(dir)).toString());
          if (causes.stream().noneMatch(x -> x.contains(c.substring(c.indexOf(':') + 1)))) causes.add(c);
        }
      } catch (IOException ignored) {
        // no such log: the causes found by reading stand alone
      }
    }
  }

  // ---- reading a journal ----------------------------------------------------------------------

  /** One persistence id's events as found. */
  private static final class Events {
    long first = -1;
    long last = -1;
    long counter = -1;
    final List<long[]> holes = new ArrayList<>();
    /** seqNr -> {firstOffset, count} of each MessagesAppended. */
    final TreeMap<Long, long[]> appends = new TreeMap<>();
    long cursor = -1;
    long cursorSeqNr = -1;
    /** Writes a repair already reported lost: {from, to} pairs kept under key (0, nid, 0). */
    long[] accepted = new long[0];

    boolean isAccepted(long from, long to) {
      for (int i = 0; i + 1 < accepted.length; i += 2) if (accepted[i] <= from && to <= accepted[i + 1]) return true;
      return false;
    }

    void add(long seqNr) {
      if (last >= 0 && seqNr > last + 1) holes.add(new long[] {last + 1, seqNr - 1});
      if (first < 0) first = seqNr;
      last = seqNr;
    }
  }

  /**
   * Which values a scan reads; every key is read, and LevelDB checks every block's checksum, either
   * way. Topics' writes are nearly all of the journal (batches of messages), each value read a copy
   * into the heap, and only a repair's account of what was lost needs them (their offsets).
   */
  private enum Values {
    ALL,
    BUT_TOPIC_WRITES,
    /** After a BUT_TOPIC_WRITES read of the same journal: only what that one passed over. */
    TOPIC_WRITES
  }

  private static final class Scan {
    Values values;
    final Map<Integer, String> ids = new HashMap<>();
    final Map<Integer, Events> events = new HashMap<>();
    Map<String, Long> snapshots = new HashMap<>();
    long entries;
    Path dir;
    /** Per topic id: the {from, to} write ranges losses() found gone. */
    final Map<String, List<long[]>> lost = new HashMap<>();

    Scan(Values values) {
      this.values = values;
    }

    void snapshots(Path dir) {
      if (!Files.isDirectory(dir)) return;
      try (Stream<Path> files = Files.list(dir)) {
        for (Path f : files.toList()) {
          Matcher m = SNAPSHOT.matcher(f.getFileName().toString());
          if (!m.matches()) continue;
          String id = URLDecoder.decode(m.group(1), StandardCharsets.UTF_8);
          snapshots.merge(id, Long.parseLong(m.group(2)), Math::max);
        }
      } catch (IOException | RuntimeException e) {
        log.warn("journal check: cannot list snapshots in {}: {}", dir, e.toString());
      }
    }

    /** Reads every readable entry (into {@code out} too, when given); what could not be read. */
    List<String> read(Path dir, boolean paranoid, DB out) {
      this.dir = dir;
      // leveldbjni's own layer: its DB iterator copies every value into the heap (twice, with
      // next()); this one reads a key without its value.
      NativeDB db;
      try {
        db = NativeDB.open(new NativeOptions().createIfMissing(false).paranoidChecks(paranoid), dir.toFile());
      } catch (IOException | RuntimeException e) {
        return List.of(describeOpenFailure(dir, e));
      }
      try {
        return readAll(db, out);
      } finally {
        db.delete();
      }
    }

    /** The topics' writes' values that this scan's keys-only read of {@code dir} passed over. */
    void readTopicWrites(Path dir) {
      values = Values.TOPIC_WRITES;
      // What this read finds unreadable the first one found already (it is in the causes).
      read(dir, true, null);
    }

    /** Copies what {@code dir} holds into a new journal {@code to}; LevelDB's repairer first if it cannot open. */
    List<String> salvage(Path dir, Path to) throws IOException {
      deleteTree(to);
      try (DB out = JniDBFactory.factory.open(to.toFile(), new Options().createIfMissing(true).errorIfExists(true))) {
        List<String> damage = new ArrayList<>();
        DB probe = null;
        try {
          probe = JniDBFactory.factory.open(dir.toFile(), new Options().createIfMissing(false));
        } catch (IOException | RuntimeException e) {
          // Without CURRENT the open fails for that alone, which the causes already say.
          if (Files.exists(dir.resolve("CURRENT"))) damage.add(describeOpenFailure(dir, e));
          JniDBFactory.factory.repair(dir.toFile(), new Options());
        } finally {
          if (probe != null) probe.close();
        }
        damage.addAll(read(dir, false, out));
        return damage;
      }
    }

    private static NativeIterator checked(NativeDB db) {
      return db.iterator(new NativeReadOptions().verifyChecksums(true).fillCache(false));
    }

    /**
     * Every readable entry in key order. LevelDB's iterator stops for good at a bad block, so after
     * one a new iterator seeks past it: to the smallest key beyond the last good one where reading
     * works again (found by doubling the distance, then halving it back).
     */
    private List<String> readAll(NativeDB db, DB out) {
      List<String> damage = new ArrayList<>();
      BigInteger from = null;
      while (true) {
        byte[] last = null;
        NativeIterator it = checked(db);
        try {
          if (from == null) it.seekToFirst();
          else it.seek(key(from));
          while (it.isValid()) {
            byte[] key = it.key();
            last = key;
            JournalKey k = JournalKey.read(key);
            boolean topicWrite = isTopicWrite(k);
            if (values == Values.TOPIC_WRITES) {
              Events ev = topicWrite ? events.get(k.persistenceId()) : null;
              if (ev != null) written(k, ev, it.value());
            } else {
              byte[] value = values == Values.ALL || !topicWrite ? it.value() : null;
              entry(k, value);
              if (out != null) out.put(key, value);
            }
            it.next();
          }
          return damage;
        } catch (IOException | RuntimeException e) {
          BigInteger after = last != null ? position(last) : from != null ? from.subtract(BigInteger.ONE) : BigInteger.ONE.negate();
          BigInteger resume = resume(db, after);
          damage.add(tables(db, after, resume == null ? END : resume) + rootMessage(e) + " after "
              + describe(last != null ? last : from == null ? null : key(from)));
          if (resume == null) return damage;
          from = resume;
        } finally {
          it.delete();
        }
      }
    }

    private static final BigInteger END = BigInteger.ONE.shiftLeft(128);
    private static final Pattern TABLE = Pattern.compile("^ (\\d+):\\d+\\['(.*)' @ \\d+ : \\d+ \\.\\. '(.*)' @ \\d+ : \\d+\\]$");

    /** "000005.sst: ": the table files whose keys span the unreadable stretch (LevelDB's own list of them). */
    private String tables(NativeDB db, BigInteger from, BigInteger to) {
      List<String> names = new ArrayList<>();
      for (String line : db.getProperty("leveldb.sstables").split("\n")) {
        Matcher m = TABLE.matcher(line);
        if (!m.matches()) continue;
        BigInteger smallest = position(unescape(m.group(2)));
        BigInteger largest = position(unescape(m.group(3)));
        if (smallest.compareTo(to) <= 0 && largest.compareTo(from) > 0) {
          String n = String.format("%06d", Long.parseLong(m.group(1)));
          names.add(dir.resolve(Files.exists(dir.resolve(n + ".ldb")) ? n + ".ldb" : n + ".sst").toString());
        }
      }
      return names.isEmpty() ? "" : String.join(", ", names) + ": ";
    }

    /** LevelDB's EscapeString undone: \\xHH is a byte, anything else itself. */
    private static byte[] unescape(String s) {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      for (int i = 0; i < s.length(); i++) {
        if (s.charAt(i) == '\\' && i + 3 < s.length() && s.charAt(i + 1) == 'x') {
          out.write(Integer.parseInt(s.substring(i + 2, i + 4), 16));
          i += 3;
        } else {
          out.write(s.charAt(i));
        }
      }
      return out.toByteArray();
    }

    private static BigInteger resume(NativeDB db, BigInteger after) {
      BigInteger bad = after;
      BigInteger step = BigInteger.ONE;
      BigInteger good = null;
      while (good == null) {
        BigInteger t = after.add(step);
        if (t.compareTo(END) >= 0) return null;
        if (readable(db, t)) good = t;
        else bad = t;
        step = step.shiftLeft(1);
      }
      while (good.subtract(bad).compareTo(BigInteger.ONE) > 0) {
        BigInteger mid = bad.add(good).shiftRight(1);
        if (readable(db, mid)) good = mid;
        else bad = mid;
      }
      return good;
    }

    /** Seeking to t and reading the entry there works (or t is past the last entry). */
    private static boolean readable(NativeDB db, BigInteger t) {
      NativeIterator it = checked(db);
      try {
        it.seek(key(t));
        if (it.isValid()) {
          it.key();
          it.value();
        }
        return true;
      } catch (IOException | RuntimeException e) {
        return false;
      } finally {
        it.delete();
      }
    }

    /** Pekko's keys: persistence id (int), sequence number (long), mapping id (int), as one number. */
    private static BigInteger position(byte[] key) {
      return new BigInteger(1, java.util.Arrays.copyOf(key, 16));
    }

    private static byte[] key(BigInteger position) {
      byte[] raw = position.toByteArray();
      byte[] key = new byte[20];
      int n = Math.min(raw.length, 16);
      System.arraycopy(raw, raw.length - n, key, 16 - n, n);
      return key;
    }

    /** One of a topic's events (k null: not one of Pekko's keys). */
    private boolean isTopicWrite(JournalKey k) {
      return k != null && k.isEvent() && isTopic(name(k.persistenceId()));
    }

    /** {@code value} is null for a topic's write this scan passes over. */
    private void entry(JournalKey k, byte[] value) {
      entries++;
      if (k == null) return;
      int nid = k.persistenceId();
      long seqNr = k.sequenceNr();
      if (k.isIdTableEntry()) {
        ids.put(k.mappingId(), new String(value, StandardCharsets.UTF_8));
        return;
      }
      if (nid == 0) {
        // Herald's own record of what a repair reported lost; Pekko never reads below id 1.
        ByteBuffer v = ByteBuffer.wrap(value);
        long[] ranges = new long[value.length / 8];
        for (int i = 0; i < ranges.length; i++) ranges[i] = v.getLong();
        events.computeIfAbsent((int) seqNr, n -> new Events()).accepted = ranges;
        return;
      }
      if (k.mappingId() != 0) return;  // old-style deletion markers
      Events ev = events.computeIfAbsent(nid, n -> new Events());
      if (seqNr == 0) {
        ev.counter = ByteBuffer.wrap(value).getLong();
        return;
      }
      ev.add(seqNr);
      if (value != null) written(k, ev, value);
    }

    /** What an event's value tells: a topic write's offsets, a channel's progress. */
    private void written(JournalKey k, Events ev, byte[] value) {
      long seqNr = k.sequenceNr();
      try {
        MessageFormats.PersistentMessage m = MessageFormats.PersistentMessage.parseFrom(value);
        MessageFormats.PersistentPayload p = m.getPayload();
        if (p.getSerializerId() == MESSAGES_SERIALIZER) {
          ByteBuffer b = p.getPayload().asReadOnlyByteBuffer();
          ev.appends.put(seqNr, new long[] {b.getLong(), b.getInt()});
        } else if (p.getPayloadManifest().toStringUtf8().equals(PROGRESSED)) {
          JsonNode progressed = CBOR.readTree(p.getPayload().toByteArray());
          ev.cursor = progressed.path("cursor").asLong(-1);
          ev.cursorSeqNr = progressed.path("cursorSeqNr").asLong(-1);
        }
      } catch (IOException | RuntimeException e) {
        log.warn("journal check: cannot decode write {} of {}: {}", seqNr, name(k.persistenceId()), e.toString());
      }
    }

    private String describe(byte[] key) {
      if (key == null) return "the start";
      JournalKey k = JournalKey.read(key);
      if (k == null) return "a non-event key";
      return k.isIdTableEntry() ? "the id table" : name(k.persistenceId()) + " write " + k.sequenceNr();
    }

    String name(int nid) {
      return ids.getOrDefault(nid, "#" + nid);
    }

    static boolean isTopic(String id) {
      return id.startsWith("t|");
    }

    /** The topic of a channel's persistence id c|topic|channel. */
    static String topicOf(String channelId) {
      int bar = channelId.lastIndexOf('|');
      return "t|" + channelId.substring(2, bar);
    }

    /**
     * Per topic id, the furthest its channels got: {cursorSeqNr - 1, cursor}. Made once, after the
     * read: asked per topic, a walk over every channel made a start with 100,000 topics quadratic
     * (over 6 minutes before the node said anything).
     */
    private Map<String, long[]> channelsByTopic;

    private long[] channelsOf(String topicId) {
      if (channelsByTopic == null) {
        channelsByTopic = new HashMap<>();
        for (Map.Entry<Integer, Events> e : events.entrySet()) {
          String id = name(e.getKey());
          if (!id.startsWith("c|")) continue;
          long[] reached = channelsByTopic.computeIfAbsent(topicOf(id), t -> new long[] {-1, -1});
          if (e.getValue().cursorSeqNr > 0) reached[0] = Math.max(reached[0], e.getValue().cursorSeqNr - 1);
          reached[1] = Math.max(reached[1], e.getValue().cursor);
        }
      }
      return channelsByTopic.getOrDefault(topicId, new long[] {-1, -1});
    }

    /** How far a topic's writes went, by its counter, its snapshots and its channels' progress. */
    long expectedLast(String topicId, Events ev) {
      long expected = Math.max(ev.last, ev.counter);
      expected = Math.max(expected, snapshots.getOrDefault(topicId, -1L));
      return Math.max(expected, channelsOf(topicId)[0]);
    }

    /** The furthest offset a channel of this topic has passed: a lower bound for a lost tail. */
    long channelCursor(String topicId) {
      return channelsOf(topicId)[1];
    }

    /** Holes and missing tails found without any read error. */
    List<String> holes() {
      List<String> found = new ArrayList<>();
      for (Map.Entry<Integer, Events> e : events.entrySet()) {
        String id = name(e.getKey());
        if (!isTopic(id)) continue;
        Events ev = e.getValue();
        for (long[] h : ev.holes) {
          if (!ev.isAccepted(h[0], h[1])) found.add(id.substring(2) + " has no journal writes " + h[0] + "-" + h[1]);
        }
        long expected = expectedLast(id, ev);
        // A topic with no event left (all deleted) has nothing to compare with.
        if (ev.last >= 0 && expected > ev.last && !ev.isAccepted(ev.last + 1, expected)) {
          found.add(id.substring(2) + " ends at journal write " + ev.last + " but its counter, snapshots or channels reached " + expected);
        }
      }
      return found;
    }

    /** What this (repaired) journal lacks that {@code before} or the topic's own records say it had. */
    List<Loss> losses(Scan before) {
      Map<String, Events> byName = new TreeMap<>();
      Map<String, Events> beforeByName = new HashMap<>();
      for (Map.Entry<Integer, Events> e : events.entrySet()) byName.put(name(e.getKey()), e.getValue());
      for (Map.Entry<Integer, Events> e : before.events.entrySet()) {
        String id = before.name(e.getKey());
        beforeByName.put(id, e.getValue());
        byName.putIfAbsent(id, new Events());
      }
      List<Loss> losses = new ArrayList<>();
      for (Map.Entry<String, Events> e : byName.entrySet()) {
        String id = e.getKey();
        if (!isTopic(id)) continue;
        Events now = e.getValue();
        Events was = beforeByName.getOrDefault(id, new Events());
        TreeMap<Long, long[]> appends = new TreeMap<>(was.appends);
        appends.putAll(now.appends);
        List<long[]> gone = new ArrayList<>(now.holes);
        long expected = Math.max(expectedLast(id, now), before.expectedLast(id, was));
        if (was.first > 0 && (now.first < 0 || was.first < now.first)) {
          gone.add(new long[] {was.first, now.first < 0 ? expected : now.first - 1});
        }
        if (expected > now.last && now.last >= 0) gone.add(new long[] {now.last + 1, expected});
        gone.sort(Comparator.comparingLong(g -> g[0]));
        lost.put(id, gone);
        long cursor = Math.max(channelCursor(id), before.channelCursor(id));
        for (long[] g : gone) {
          if (now.isAccepted(g[0], g[1])) continue;  // reported by an earlier repair
          Map.Entry<Long, long[]> prev = appends.lowerEntry(g[0]);
          Map.Entry<Long, long[]> next = appends.higherEntry(g[1]);
          long from = prev == null ? 0 : prev.getValue()[0] + prev.getValue()[1];
          long to = next != null ? next.getValue()[0] - 1 : cursor > from ? cursor - 1 : -1;
          if (to >= 0 && to < from) continue;  // the lost writes held no messages
          losses.add(new Loss(id.substring(2), g[0], g[1], from, to));
        }
      }
      losses.addAll(nameless());
      return losses;
    }

    /**
     * Topics whose name went with the damaged part (the id table that names journal ids sorts
     * first, so it is in the oldest table): their writes that are left are kept under no name, out
     * of any client's reach, so every message in them is lost, and what came before them is not
     * known at all. Before, such a topic vanished while the report said no message was missing.
     */
    private List<Loss> nameless() {
      List<Loss> found = new ArrayList<>();
      for (Map.Entry<Integer, Events> e : events.entrySet()) {
        Events ev = e.getValue();
        if (ids.containsKey(e.getKey()) || ev.appends.isEmpty()) continue;
        long[] last = ev.appends.lastEntry().getValue();
        found.add(new Loss("#" + e.getKey() + " (its name was in the damaged part, and so were any messages before these)",
            ev.first, ev.last, ev.appends.firstEntry().getValue()[0], last[0] + last[1] - 1));
      }
      return found;
    }

    /**
     * Makes the salvaged journal safe for Pekko to write on. A topic whose last writes are gone
     * must not write those sequence numbers again (its channels have read past them and would skip
     * what lands there): counters go up to what was reached. Pekko numbers a new persistence id
     * after the count of known ones, so an id whose name was lost keeps a placeholder name.
     */
    void fixUp(Path dir, Scan before) throws IOException {
      try (DB db = JniDBFactory.factory.open(dir.toFile(), new Options().createIfMissing(false))) {
        WriteOptions sync = new WriteOptions().sync(true);
        int highest = 9;
        for (int nid : events.keySet()) highest = Math.max(highest, nid);
        for (int nid : ids.keySet()) highest = Math.max(highest, nid);
        for (int nid = 10; nid <= highest; nid++) {
          byte[] mapping = new JournalKey(1, 0L, nid).bytes();
          if (db.get(mapping) != null) continue;
          String name = ids.getOrDefault(nid, "herald-lost-id-" + nid);
          db.put(mapping, name.getBytes(StandardCharsets.UTF_8), sync);
        }
        for (Map.Entry<Integer, Events> e : events.entrySet()) {
          String id = name(e.getKey());
          if (!isTopic(id)) continue;
          List<long[]> gone = new ArrayList<>(lost.getOrDefault(id, List.of()));
          for (int i = 0; i + 1 < e.getValue().accepted.length; i += 2) {
            gone.add(new long[] {e.getValue().accepted[i], e.getValue().accepted[i + 1]});
          }
          if (!gone.isEmpty()) {
            ByteBuffer ranges = ByteBuffer.allocate(gone.size() * 16);
            for (long[] g : gone) ranges.putLong(g[0]).putLong(g[1]);
            db.put(new JournalKey(0, e.getKey(), 0).bytes(), ranges.array(), sync);
          }
          Events was = before.events.get(e.getKey());
          long expected = Math.max(expectedLast(id, e.getValue()), was == null ? -1 : before.expectedLast(id, was));
          if (expected > e.getValue().counter) {
            db.put(new JournalKey(e.getKey(), 0L, 0).bytes(), ByteBuffer.allocate(8).putLong(expected).array(), sync);
          }
        }
      }
    }
  }

  /** LevelDB's own message, with the file it names in its LOG when the message does not. */
  private static String describeOpenFailure(Path dir, Exception e) {
    String message = rootMessage(e);
    if (message.contains(".log") || message.contains("MANIFEST") || message.contains(".sst") || message.contains(".ldb")) {
      return message;
    }
    try {
      List<String> lines = Files.readAllLines(dir.resolve("LOG"), StandardCharsets.ISO_8859_1);
      for (int i = lines.size() - 1; i >= 0; i--) {
        String l = lines.get(i);
        if (l.contains("dropping") || l.contains("Corruption")) return l.replaceAll("^\\S+ \\S+\\s+", "");
      }
      // LevelDB reads the manifest before any log: a failure with no log read is the manifest's.
      if (lines.stream().noneMatch(l -> l.contains("Recovering log")) && Files.exists(dir.resolve("CURRENT"))) {
        return dir.resolve(Files.readString(dir.resolve("CURRENT")).trim()) + ": " + message;
      }
    } catch (IOException ignored) {
      // no LOG: LevelDB's message stands alone
    }
    return message + " in " + dir;
  }

  private static String rootMessage(Throwable e) {
    return Node.rootMessage(e);
  }

  static void deleteTree(Path dir) {
    if (!Files.exists(dir)) return;
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    } catch (IOException e) {
      log.warn("cannot delete {}: {}", dir, e.toString());
    }
  }
}
