/*
 * fsync-floor: this disk's write + sync latency under the node's write pattern at 10,000 msgs/s,
 * with no JVM, no Pekko and no LevelDB in the way (issue 13: is an e2e p99 <= 5 ms physically
 * possible here with a sync per answered publish?).
 *
 *   cc -O2 -pthread -o /tmp/fsync-floor deploy/fsync-floor.c
 *   /tmp/fsync-floor DIR [options]        (DIR on the disk the journal uses; it is filled and emptied)
 *
 * The pattern (from strace of a node under `herald bench --batch 100 --publishers 4 --rate 10000
 * --consumers 2 --rdy 1000`): the topic's writes, ~20 KB each, 100 a second, appended to LevelDB's
 * log and synced before the answer; each channel's progress write (~100 bytes) every 100 ms into
 * the same log, one sync at a time (LevelDB's writer queue); every 4 MB of log a new log file, and
 * on a background thread the memtable written out as a table file and synced, a MANIFEST record
 * appended and fsynced, the old log deleted (what LevelDB does at a memtable flush).
 *
 * Options:
 *   --seconds N        how long to run (20)
 *   --rate N           topic writes per second (100)
 *   --size BYTES       bytes per topic write (20480)
 *   --channels N       progress writers, one write each per --progress-ms (2; 0 = none)
 *   --progress-ms N    (100)
 *   --log-bytes BYTES  new log file after this many bytes (4194304; 0 = never)
 *   --table-bytes B    bytes written and synced per memtable flush (4194304; 0 = no flush)
 *   --mmap             write the log as LevelDB 1.8 does (leveldbjni-all 1.8, the journal Herald
 *                      runs): an mmap'ed file grown by ftruncate, each sync an msync(MS_SYNC)
 *                      of the pages written since the last one. Default: write() + fdatasync().
 *   --prealloc         each log file written full of zeros and synced before use (not with --mmap):
 *                      the floor of a log that never grows, whose sync writes data and no metadata.
 * Prints p50/p90/p99/p99.9/max of the topic writes' write+sync time (the disk's share of a
 * publish) and of due time -> synced (with the wait behind a progress write), and the same for
 * the progress writes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static int seconds = 20, rate = 100, size = 20480, channels = 2, progress_ms = 100, use_mmap = 0, prealloc = 0;
static long log_bytes = 4194304, table_bytes = 4194304;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;  /* LevelDB's single writer */
static pthread_mutex_t flush_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flush_cond = PTHREAD_COND_INITIALIZER;
static int flush_pending = 0, log_number = 0;
static atomic_int stop = 0;

/* the current log */
static int log_fd = -1;
static long log_off = 0, map_size = 0, map_off = 0, synced_off = 0;
static char *map_base = NULL;
static long next_map = 65536;
static int pending_sync = 0;  /* a finished map holds unsynced pages: the next sync is an fdatasync */

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void die(const char *what) { perror(what); exit(1); }

static void sleep_until(double ms) {
  struct timespec t = {(time_t)(ms / 1e3), (long)((ms - (time_t)(ms / 1e3) * 1e3) * 1e6)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {}
}

/* A pre-written log file, made ahead of need (on the flush thread) so that no write waits for it. */
static int spare_fd = -1;

static int make_log_file(int number) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%06d.log", dir, number);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open log");
  if (prealloc) {
    /* written once and synced before use: a sync then writes data only, no block allocation or size */
    long n = log_bytes > 0 ? log_bytes + (1 << 20) : (long)(seconds + 1) * rate * size + (1 << 20);
    char *zero = calloc(1, 1 << 20);
    for (long left = n; left > 0; left -= 1 << 20)
      if (write(fd, zero, left < (1 << 20) ? left : (1 << 20)) < 0) die("prealloc");
    free(zero);
    fsync(fd);
    lseek(fd, 0, SEEK_SET);
  }
  return fd;
}

static void open_log(void) {
  ++log_number;
  if (spare_fd >= 0) log_fd = spare_fd, spare_fd = -1;
  else log_fd = make_log_file(log_number);
  log_off = 0, map_size = 0, map_off = 0, synced_off = 0, map_base = NULL, next_map = 65536, pending_sync = 0;
}

static void close_log(void) {
  if (use_mmap) {
    if (map_base) munmap(map_base, map_size);
    if (ftruncate(log_fd, log_off) != 0) die("ftruncate");
    fdatasync(log_fd);
  }
  close(log_fd);
}

/* LevelDB 1.8's PosixMmapFile: maps of 64 KB doubling to 1 MB, the file grown by ftruncate. */
static void mmap_append(const char *buf, long n) {
  while (n > 0) {
    if (!map_base || map_off == map_size) {
      if (map_base) {
        munmap(map_base, map_size);
        if (synced_off < log_off) pending_sync = 1;
      }
      map_size = next_map;
      if (next_map < 1048576) next_map *= 2;
      long file_off = log_off;
      if (ftruncate(log_fd, file_off + map_size) != 0) die("ftruncate");
      map_base = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, log_fd, file_off);
      if (map_base == MAP_FAILED) die("mmap");
      map_off = 0;
      synced_off = file_off;
    }
    long k = n < map_size - map_off ? n : map_size - map_off;
    memcpy(map_base + map_off, buf, k);
    map_off += k, log_off += k, buf += k, n -= k;
  }
}

static void mmap_sync(void) {
  long map_start = log_off - map_off;  /* file offset of the current map */
  long from = synced_off - map_start, page = 4096;
  if (pending_sync) {
    pending_sync = 0;
    if (fdatasync(log_fd) != 0) die("fdatasync");
  }
  if (from < 0) from = 0;
  from -= from % page;
  if (map_off > from && msync(map_base + from, map_off - from, MS_SYNC) != 0) die("msync");
  synced_off = log_off;
}

/* One record appended and synced under the writer lock; returns ms spent writing + syncing. */
static double append_synced(const char *buf, long n) {
  pthread_mutex_lock(&log_lock);
  double t0 = now_ms();
  if (use_mmap) {
    mmap_append(buf, n);
    mmap_sync();
  } else {
    if (write(log_fd, buf, n) != n) die("write");
    log_off += n;
    if (fdatasync(log_fd) != 0) die("fdatasync");
  }
  double took = now_ms() - t0;
  if (log_bytes > 0 && log_off >= log_bytes) {
    close_log();
    open_log();
    pthread_mutex_lock(&flush_lock);
    flush_pending++;
    pthread_cond_signal(&flush_cond);
    pthread_mutex_unlock(&flush_lock);
  }
  pthread_mutex_unlock(&log_lock);
  return took;
}

/* The memtable flush: a table file written and synced, a MANIFEST record fsynced, the old log gone. */
static void *flusher(void *arg) {
  (void)arg;
  char path[4096], *buf = malloc(1 << 20);
  memset(buf, 'x', 1 << 20);
  snprintf(path, sizeof path, "%s/MANIFEST", dir);
  int manifest = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (manifest < 0) die("open manifest");
  int tables = 0;
  for (;;) {
    pthread_mutex_lock(&flush_lock);
    while (!flush_pending && !atomic_load(&stop)) pthread_cond_wait(&flush_cond, &flush_lock);
    if (atomic_load(&stop)) { pthread_mutex_unlock(&flush_lock); break; }
    flush_pending--;
    int old_log = log_number - 1;
    pthread_mutex_unlock(&flush_lock);
    if (table_bytes > 0) {
      snprintf(path, sizeof path, "%s/%06d.ldb", dir, ++tables);
      int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) die("open table");
      for (long left = table_bytes; left > 0; left -= 1 << 20)
        if (write(fd, buf, left < (1 << 20) ? left : (1 << 20)) < 0) die("write table");
      fdatasync(fd);
      close(fd);
      if (write(manifest, buf, 200) != 200) die("write manifest");
      fsync(manifest);
    }
    snprintf(path, sizeof path, "%s/%06d.log", dir, old_log);
    unlink(path);
    if (prealloc && log_bytes > 0) {
      int fd = make_log_file(old_log + 2);
      pthread_mutex_lock(&log_lock);
      spare_fd = fd;
      pthread_mutex_unlock(&log_lock);
    }
  }
  close(manifest);
  free(buf);
  return NULL;
}

typedef struct { double *took, *late; int n, cap; } Samples;

static void add(Samples *s, double took, double late) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 4096;
    s->took = realloc(s->took, s->cap * sizeof(double));
    s->late = realloc(s->late, s->cap * sizeof(double));
  }
  s->took[s->n] = took, s->late[s->n] = late, s->n++;
}

static Samples progress_samples;
static pthread_mutex_t progress_samples_lock = PTHREAD_MUTEX_INITIALIZER;

static void *progress_writer(void *arg) {
  long i = (long)arg;
  char buf[100];
  memset(buf, 'p', sizeof buf);
  double due = now_ms() + i * progress_ms / (double)(channels ? channels : 1);
  while (!atomic_load(&stop)) {
    sleep_until(due);
    double took = append_synced(buf, sizeof buf);
    pthread_mutex_lock(&progress_samples_lock);
    add(&progress_samples, took, now_ms() - due);
    pthread_mutex_unlock(&progress_samples_lock);
    due += progress_ms;
  }
  return NULL;
}

/* Sectors written to the disk under DIR so far (/proc/diskstats), to tell whether others wrote too. */
static long long disk_sectors_written(void) {
  struct stat st;
  if (stat(dir, &st) != 0) return -1;
  unsigned maj = major(st.st_dev), min = minor(st.st_dev);
  FILE *f = fopen("/proc/diskstats", "r");
  if (!f) return -1;
  char line[512];
  long long sectors = -1;
  while (fgets(line, sizeof line, f)) {
    unsigned a, b;
    long long v[7];
    char name[64];
    if (sscanf(line, "%u %u %63s %lld %lld %lld %lld %lld %lld %lld", &a, &b, name, &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6]) == 10 && a == maj && b == min)
      sectors = v[6];
  }
  fclose(f);
  return sectors;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n) {
  if (n == 0) { printf("%-34s none\n", name); return; }
  qsort(v, n, sizeof(double), cmp);
#define P(q) v[(int)((q) * (n - 1))]
  printf("%-34s n=%-6d p50 %6.2f  p90 %6.2f  p99 %6.2f  p99.9 %6.2f  max %6.2f ms\n", name, n, P(0.5),
         P(0.9), P(0.99), P(0.999), v[n - 1]);
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: fsync-floor DIR [options] (see the file's head)\n"); return 2; }
  dir = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : "0";
    if (!strcmp(a, "--mmap")) { use_mmap = 1; continue; }
    if (!strcmp(a, "--prealloc")) { prealloc = 1; continue; }
    if (!strcmp(a, "--seconds")) seconds = atoi(v);
    else if (!strcmp(a, "--rate")) rate = atoi(v);
    else if (!strcmp(a, "--size")) size = atoi(v);
    else if (!strcmp(a, "--channels")) channels = atoi(v);
    else if (!strcmp(a, "--progress-ms")) progress_ms = atoi(v);
    else if (!strcmp(a, "--log-bytes")) log_bytes = atol(v);
    else if (!strcmp(a, "--table-bytes")) table_bytes = atol(v);
    else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    i++;
  }
  mkdir(dir, 0755);
  open_log();
  if (prealloc && log_bytes > 0) spare_fd = make_log_file(2);
  long long sectors_before = disk_sectors_written();
  pthread_t flush_thread, progress[64];
  pthread_create(&flush_thread, NULL, flusher, NULL);
  for (long i = 0; i < channels && i < 64; i++) pthread_create(&progress[i], NULL, progress_writer, (void *)i);

  char *buf = malloc(size);
  memset(buf, 'm', size);
  Samples topic = {0};
  double start = now_ms(), period = 1e3 / rate, due = start;
  while (due < start + seconds * 1e3) {
    sleep_until(due);
    double took = append_synced(buf, size);
    add(&topic, took, now_ms() - due);
    due += period;
  }
  atomic_store(&stop, 1);
  pthread_mutex_lock(&flush_lock);
  pthread_cond_broadcast(&flush_cond);
  pthread_mutex_unlock(&flush_lock);
  for (int i = 0; i < channels && i < 64; i++) pthread_join(progress[i], NULL);
  pthread_join(flush_thread, NULL);
  close_log();
  long long sectors = disk_sectors_written() - sectors_before;
  double ours = ((double)topic.n * size + progress_samples.n * 100.0) / 1e6;

  printf("%s%s, %d s: %d x %d B/s into one log, %d progress writer(s) every %d ms, new log every %ld B, "
         "table %ld B per flush, %d logs\n",
         use_mmap ? "mmap+msync (LevelDB 1.8)" : "write+fdatasync", prealloc ? " into a pre-written file" : "", seconds, rate, size, channels, progress_ms,
         log_bytes, table_bytes, log_number);
  printf("disk: %.1f MB written in all while running; this program's log writes %.1f MB (tables come on top)\n",
         sectors * 512 / 1e6, ours);
  report("topic write: write+sync", topic.took, topic.n);
  report("topic write: due -> synced", topic.late, topic.n);
  report("progress write: write+sync", progress_samples.took, progress_samples.n);
  report("progress write: due -> synced", progress_samples.late, progress_samples.n);
  return 0;
}
