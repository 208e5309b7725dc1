import org.fusesource.leveldbjni.JniDBFactory;
import org.iq80.leveldb.*;
import java.io.File;
import java.lang.management.*;
import java.nio.ByteBuffer;
import java.nio.file.*;

/**
 * LevelDB alone (leveldbjni 1.8 from Herald's jar), writing what the journal writes for one topic
 * under /mpub: Pekko's key layout, per write the entity's counter key and one value of MSGS x 220
 * bytes, one writer thread; prints the writer thread's and the whole process's CPU per message (the
 * process includes LevelDB's compaction thread) and LevelDB's compaction stats. By hand only:
 *
 *   java -cp target/herald.jar deploy/LevelDbAlone.java VARIANT SECONDS [MSGS]
 *
 * VARIANT words: buf16 / buf64 (memtable, default 4 MiB), nosync, nocomp (no snappy), nocounter
 * (no counter key), random (incompressible bodies instead of 'x'), block64 (64 KiB blocks);
 * consume adds what a consuming channel adds to the journal: its progress writes (a second entity,
 * ~200 bytes, ten a second, each synced, from a second thread) and the topic's trims (every 500
 * writes, the 500 before the last 100 deleted in one synced batch, as Pekko deletes).
 * rateN paces the topic's writes at N a second (each due at a fixed time, as the e2e bench's
 * publishes are) and prints their write + sync latency (from the due time) by percentile: LevelDB's
 * own share of an end-to-end publish, e.g. {@code buf64consumerate100 10 93} for issue 13's 10,000
 * msgs/s in batches of 100 (a ~20 KB write) beside a channel's progress writes.
 * performance.md, "The journal's own threads under /mpub", has what it measured.
 */
public class LevelDbAlone {
  public static void main(String[] a) throws Exception {
    String variant = a[0]; // words, see the class comment
    int secs = Integer.parseInt(a[1]);
    int msgs = a.length > 2 ? Integer.parseInt(a[2]) : 1000;
    boolean counter = !variant.contains("nocounter"), sync = !variant.contains("nosync");
    long buf = variant.contains("buf64") ? 64 << 20 : variant.contains("buf16") ? 16 << 20 : 4 << 20;
    boolean comp = !variant.contains("nocomp");
    boolean random = variant.contains("random");
    File dir = Files.createTempDirectory("leveldb-alone").toFile();
    Options o = new Options().createIfMissing(true).writeBufferSize((int) buf)
        .compressionType(comp ? CompressionType.SNAPPY : CompressionType.NONE);
    if (variant.contains("block64")) o.blockSize(64 << 10);
    DB db = JniDBFactory.factory.open(dir, o);
    WriteOptions wo = new WriteOptions().sync(sync);
    byte[] value = new byte[msgs * 220];
    if (random) new java.util.Random(1).nextBytes(value); else java.util.Arrays.fill(value, (byte) 'x');
    ThreadMXBean tm = ManagementFactory.getThreadMXBean();
    com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    boolean consume = variant.contains("consume");
    Thread progress = new Thread(() -> { // a channel's progress writes
      byte[] record = new byte[200];
      for (long n = 1; ; n++) {
        try (WriteBatch b = db.createWriteBatch()) {
          if (counter) b.put(ByteBuffer.allocate(16).putInt(11).putLong(0).putInt(0).array(), ByteBuffer.allocate(8).putLong(n).array());
          b.put(ByteBuffer.allocate(16).putInt(11).putLong(n).putInt(0).array(), record);
          db.write(b, wo);
          Thread.sleep(100);
        } catch (Exception e) {
          return;
        }
      }
    });
    if (consume) progress.start();
    java.util.regex.Matcher rm = java.util.regex.Pattern.compile("rate(\\d+)").matcher(variant);
    long interval = rm.find() ? 1_000_000_000L / Long.parseLong(rm.group(1)) : 0;
    long[] latency = new long[interval > 0 ? (int) (secs * 1_000_000_000L / interval) + 1 : 0];
    long end = System.nanoTime() + secs * 1_000_000_000L, seq = 0;
    long t0 = System.nanoTime(), cpu0 = tm.getCurrentThreadCpuTime(), user0 = tm.getCurrentThreadUserTime(), p0 = os.getProcessCpuTime();
    while (System.nanoTime() < end) {
      seq++;
      long due = t0 + (seq - 1) * interval;
      while (interval > 0 && System.nanoTime() < due) java.util.concurrent.locks.LockSupport.parkNanos(due - System.nanoTime());
      try (WriteBatch b = db.createWriteBatch()) {
        if (counter) b.put(ByteBuffer.allocate(16).putInt(10).putLong(0).putInt(0).array(), ByteBuffer.allocate(8).putLong(seq).array());
        b.put(ByteBuffer.allocate(16).putInt(10).putLong(seq).putInt(0).array(), value);
        db.write(b, wo);
      }
      if (interval > 0 && seq <= latency.length) latency[(int) seq - 1] = System.nanoTime() - due;
      if (consume && seq % 500 == 0 && seq > 600) {
        try (WriteBatch b = db.createWriteBatch()) {
          for (long k = seq - 599; k <= seq - 100; k++) b.delete(ByteBuffer.allocate(16).putInt(10).putLong(k).putInt(0).array());
          db.write(b, wo);
        }
      }
    }
    progress.interrupt();
    progress.join();
    double wall = (System.nanoTime() - t0) / 1e9, n = seq * (double) msgs;
    long cpu = tm.getCurrentThreadCpuTime() - cpu0, user = tm.getCurrentThreadUserTime() - user0, proc = os.getProcessCpuTime() - p0;
    System.out.printf("%-22s writes %6d %7.0f msgs/s  write %.2f ms  writer thread %.2f us/msg (user %.2f sys %.2f)  process %.2f us/msg%n",
        variant, seq, n / wall, wall * 1e3 / seq, cpu / 1e3 / n, user / 1e3 / n, (cpu - user) / 1e3 / n, proc / 1e3 / n);
    if (interval > 0) {
      long[] l = java.util.Arrays.copyOf(latency, (int) Math.min(seq, latency.length));
      java.util.Arrays.sort(l);
      System.out.printf("  due -> written and synced, n=%d: p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f ms%n", l.length,
          l[l.length / 2] / 1e6, l[l.length * 9 / 10] / 1e6, l[l.length * 99 / 100] / 1e6, l[l.length * 999 / 1000] / 1e6, l[l.length - 1] / 1e6);
    }
    System.out.println("  " + db.getProperty("leveldb.stats").replace("\n", "\n  "));
    db.close();
    try (var w = Files.walk(dir.toPath())) { w.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete()); }
  }
}
