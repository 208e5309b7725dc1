// e2e-lean: issue 13's end-to-end load with a load generator in C, no JVM: so that what the bench's own
// JVM adds to a p99 can be told from what the server and the machine do. Same shape as
//   herald bench --batch 100 --publishers 4 --rate 10000 --consumers 2 --rdy 1000 --duration 12s --warmup 5s
// with HTTP POST /mpub publishers (keep-alive, one request in flight each, each due at a fixed time) and
// NSQ TCP consumers (IDENTIFY output_buffer_size -1, SUB, RDY, FIN each message, the FINs of one read in
// one write). Each message carries its request's due time (CLOCK_MONOTONIC); latencies are from it: the
// answer's ("ack") and each message's first delivery ("e2e"). Works against Herald and nsqd alike.
//   cc -O2 -pthread -o /tmp/e2e-lean deploy/e2e-lean.c
//   /tmp/e2e-lean HTTP_HOST:PORT TCP_HOST:PORT TOPIC [rate 10000] [seconds 12] [warmup 5]
// By hand only.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PUBLISHERS 4
#define CONSUMERS 2
#define BATCH 100
#define SIZE 200
#define RDY 1000

static const char *http_addr, *tcp_addr, *topic;
static char topic_query[256]; // the topic in a URL: '#' (ephemeral topics) as %23
static long rate = 10000, seconds = 12, warmup = 5;
static int64_t start_ns, measure_ns, end_ns;
static long requests_per_pub;
// Per request (publisher * requests_per_pub + k): the ack latency, and its latest message's first delivery.
static int64_t *ack_us, *e2e_max_us;
static int64_t *e2e_us; // one per message in the measured part
static long e2e_n, e2e_cap;
static long delivered, acked_msgs;
static unsigned char *seen; // per message: delivered once already
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t) t.tv_sec * 1000000000 + t.tv_nsec;
}

static int dial(const char *addr) {
  char host[64];
  const char *colon = strrchr(addr, ':');
  if (!colon || colon - addr >= (long) sizeof host) { fprintf(stderr, "bad address %s\n", addr); exit(2); }
  memcpy(host, addr, colon - addr);
  host[colon - addr] = 0;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
  inet_pton(AF_INET, host, &sa.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) { perror(addr); exit(1); }
  return fd;
}

static void write_all(int fd, const void *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) { perror("write"); exit(1); }
    p = (const char *) p + w;
    n -= w;
  }
}

static void *publisher(void *arg) {
  long pub = (long) arg;
  int fd = dial(http_addr);
  char *body = malloc(BATCH * (SIZE + 1)), head[256], resp[4096];
  int64_t interval = (int64_t) 1000000000 * PUBLISHERS * BATCH / rate;
  for (long k = 0; k < requests_per_pub; k++) {
    int64_t due = start_ns + k * interval + pub * interval / PUBLISHERS;
    struct timespec t = {due / 1000000000, due % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {}
    char *b = body;
    for (int m = 0; m < BATCH; m++) {
      int n = sprintf(b, "%019lld %02ld %07ld %03d ", (long long) due, pub, k, m);
      memset(b + n, 'x', SIZE - n);
      b += SIZE;
      *b++ = '\n';
    }
    size_t len = b - body - 1;
    int hn = snprintf(head, sizeof head, "POST /mpub?topic=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", topic_query, len);
    struct iovec v[2] = {{head, hn}, {body, len}};
    if (writev(fd, v, 2) != (ssize_t) (hn + len)) { perror("writev"); exit(1); }
    // The answer: headers, then Content-Length bytes.
    size_t got = 0;
    long need = -1;
    for (;;) {
      ssize_t r = read(fd, resp + got, sizeof resp - got - 1);
      if (r <= 0) { fprintf(stderr, "publisher %ld: connection closed\n", pub); exit(1); }
      got += r;
      resp[got] = 0;
      char *end = strstr(resp, "\r\n\r\n");
      if (!end) continue;
      if (need < 0) {
        if (strncmp(resp + 9, "200", 3) != 0) { fprintf(stderr, "publisher %ld: %.40s\n", pub, resp); exit(1); }
        char *cl = strcasestr(resp, "content-length:");
        need = (end + 4 - resp) + (cl ? atol(cl + 15) : 0);
      }
      if ((long) got >= need) break;
    }
    int64_t done = now_ns();
    if (due >= measure_ns) ack_us[pub * requests_per_pub + k] = (done - due) / 1000;
    __atomic_add_fetch(&acked_msgs, BATCH, __ATOMIC_RELAXED);
  }
  close(fd);
  return NULL;
}

static void *consumer(void *arg) {
  (void) arg;
  int fd = dial(tcp_addr);
  static const char identify[] = "{\"output_buffer_size\":-1}";
  char cmd[256];
  uint32_t len = htonl(sizeof identify - 1);
  write_all(fd, "  V2IDENTIFY\n", 13);
  write_all(fd, &len, 4);
  write_all(fd, identify, sizeof identify - 1);
  int n = snprintf(cmd, sizeof cmd, "SUB %s lean\nRDY %d\n", topic, RDY);
  write_all(fd, cmd, n);
  size_t cap = 1 << 20, have = 0;
  unsigned char *buf = malloc(cap);
  char *fins = malloc(cap / 8);
  int oks = 0;
  for (;;) {
    ssize_t r = read(fd, buf + have, cap - have);
    if (r <= 0) break;
    int64_t now = now_ns();
    have += r;
    size_t at = 0, fn = 0;
    while (have - at >= 8) {
      uint32_t size = ntohl(*(uint32_t *) (buf + at)), type = ntohl(*(uint32_t *) (buf + at + 4));
      if (have - at < 4 + size) break;
      unsigned char *data = buf + at + 8;
      if (type == 2) {
        char *id = (char *) data + 10, *body = (char *) data + 26;
        long long due = atoll(body);
        long pub = atol(body + 20), k = atol(body + 23), m = atol(body + 31);
        long req = pub * requests_per_pub + k, msg = req * BATCH + m;
        pthread_mutex_lock(&lock);
        if (!seen[msg]) {
          seen[msg] = 1;
          delivered++;
          int64_t us = (now - due) / 1000;
          if (due >= measure_ns && due < end_ns) {
            if (e2e_n < e2e_cap) e2e_us[e2e_n++] = us;
            if (us > e2e_max_us[req]) e2e_max_us[req] = us;
          }
        }
        pthread_mutex_unlock(&lock);
        memcpy(fins + fn, "FIN ", 4);
        memcpy(fins + fn + 4, id, 16);
        fins[fn + 20] = '\n';
        fn += 21;
      } else if (type == 0 && size - 4 == 11 && memcmp(data, "_heartbeat_", 11) == 0) {
        memcpy(fins + fn, "NOP\n", 4);
        fn += 4;
      } else if (type == 0) {
        oks++;
      } else {
        fprintf(stderr, "consumer: error %.*s\n", (int) size - 4, data);
        exit(1);
      }
      at += 4 + size;
    }
    if (fn) write_all(fd, fins, fn);
    memmove(buf, buf + at, have - at);
    have -= at;
  }
  return NULL;
}

static int cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
  return x < y ? -1 : x > y;
}

static void report(const char *what, int64_t *v, long n) {
  qsort(v, n, sizeof *v, cmp);
  if (n == 0) { printf("%s latency: none\n", what); return; }
  printf("%s latency:  p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms  (%ld samples)\n", what,
      v[n / 2] / 1000.0, v[(long) (n * 0.99)] / 1000.0, v[(long) (n * 0.999)] / 1000.0, v[n - 1] / 1000.0, n);
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: e2e-lean HTTP TCP TOPIC [rate] [seconds] [warmup]\n"); return 2; }
  http_addr = argv[1], tcp_addr = argv[2], topic = argv[3];
  for (const char *t = topic; *t && strlen(topic_query) < sizeof topic_query - 4; t++) {
    if (*t == '#') strcat(topic_query, "%23");
    else strncat(topic_query, t, 1);
  }
  if (argc > 4) rate = atol(argv[4]);
  if (argc > 5) seconds = atol(argv[5]);
  if (argc > 6) warmup = atol(argv[6]);
  requests_per_pub = (warmup + seconds) * rate / (PUBLISHERS * BATCH);
  long requests = requests_per_pub * PUBLISHERS;
  ack_us = calloc(requests, sizeof *ack_us);
  e2e_max_us = calloc(requests, sizeof *e2e_max_us);
  seen = calloc(requests * BATCH, 1);
  e2e_cap = seconds * rate + 1000;
  e2e_us = malloc(e2e_cap * sizeof *e2e_us);
  for (long i = 0; i < requests; i++) ack_us[i] = -1;
  pthread_t c[CONSUMERS], p[PUBLISHERS];
  for (long i = 0; i < CONSUMERS; i++) pthread_create(&c[i], NULL, consumer, (void *) i);
  usleep(300000); // the channel exists before the first publish
  start_ns = now_ns() + 10000000;
  measure_ns = start_ns + warmup * 1000000000LL;
  end_ns = measure_ns + seconds * 1000000000LL;
  for (long i = 0; i < PUBLISHERS; i++) pthread_create(&p[i], NULL, publisher, (void *) i);
  for (long i = 0; i < PUBLISHERS; i++) pthread_join(p[i], NULL);
  int64_t drain = now_ns() + 10000000000LL;
  while (__atomic_load_n(&delivered, __ATOMIC_RELAXED) < requests * BATCH && now_ns() < drain) usleep(10000);
  pthread_mutex_lock(&lock);
  long acks = 0, late = 0;
  for (long i = 0; i < requests; i++) if (ack_us[i] >= 0) ack_us[acks++] = ack_us[i];
  for (long i = 0; i < requests; i++) if (e2e_max_us[i] > 5000) late++;
  printf("lean: %ld requests, %ld messages acknowledged, %ld delivered, %ld missing\n", requests, acked_msgs, delivered,
      requests * BATCH - delivered);
  report("ack", ack_us, acks);
  report("e2e", e2e_us, e2e_n);
  printf("requests with a message later than 5 ms: %ld\n", late);
  return delivered == requests * BATCH ? 0 : 1;
}
