package herald.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import herald.settings.Version;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code herald bench}: nsq's bench_writer and bench_reader in one. Publishers POST /pub or /mpub
 * for a while, WebSocket consumers FIN every message; then it prints throughput and latency
 * percentiles and checks that every acknowledged message was consumed.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = Version.class, sortOptions = false,
    usageHelpWidth = 110,
    description = {
        "Load-tests a node. Publishers POST /pub (--batch 1) or /mpub for --duration; optional WebSocket consumers"
            + " on /sub FIN every message. Prints a progress line each second, then throughput and latency"
            + " percentiles (publish acknowledgement, and end to end from publish to delivery).",
        "With consumers it then drains and checks that every acknowledged message was consumed at least once.",
        "Exit code: 0 when the run completed and no acknowledged message is missing; 1 otherwise; 2 for bad flags."})
public final class Bench implements Callable<Integer> {
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
  private static final long MAX_LATENCY_MICROS = TimeUnit.HOURS.toMicros(1);

  public enum Format { binary, json }

  @Spec
  CommandSpec spec;

  @Option(names = "--http", paramLabel = "ADDRESS",
      description = "node HTTP address, host:port or a URL; repeat to spread publishers and consumers over several (default: 127.0.0.1:4151)")
  List<String> http;

  @Option(names = "--tcp", paramLabel = "HOST:PORT",
      description = "NSQ TCP address (--tcp-address of a node, or an nsqd); repeat for several: publishers send PUB/MPUB"
          + " and consumers SUB over NSQ's TCP protocol there instead of HTTP and WebSocket")
  List<String> tcp;

  @Option(names = "--sub-tcp", paramLabel = "HOST:PORT",
      description = "consumers SUB over NSQ's TCP protocol at this address (a node's --tcp-address, or an nsqd) while the"
          + " publishers use --http (or --tcp): HTTP publishing with TCP consuming, the same load for Herald and nsqd,"
          + " which has no WebSocket; repeat for several (default: where --tcp says, else WebSocket on --http)")
  List<String> subTcp;

  @Option(names = "--sub-unbuffered",
      description = "TCP consumers IDENTIFY with output_buffer_size -1, so that nsqd writes each message as it goes instead of"
          + " flushing its buffer every 250 ms (its default output_buffer_timeout): for latency against nsqd. Herald"
          + " writes as it goes either way")
  boolean subUnbuffered;

  @Option(names = "--topic", paramLabel = "NAME", defaultValue = "bench", description = "topic (default: ${DEFAULT-VALUE})")
  String topic;

  @Option(names = "--channel", paramLabel = "NAME", defaultValue = "bench", description = "channel the consumers share (default: ${DEFAULT-VALUE})")
  String channel;

  @Option(names = "--size", paramLabel = "BYTES", defaultValue = "200",
      description = "message body size, at least " + BenchBody.HEADER + " (default: ${DEFAULT-VALUE})")
  int size;

  @Option(names = "--batch", paramLabel = "N", defaultValue = "100",
      description = "messages per request: 1 = POST /pub, more = POST /mpub (default: ${DEFAULT-VALUE})")
  int batch;

  @Option(names = "--publishers", paramLabel = "N", defaultValue = "32",
      description = "concurrent publishing HTTP connections, one request in flight each; 0 = none: the consumers take what"
          + " the channel already holds (a backlog) for --duration (default: ${DEFAULT-VALUE})")
  int publishers;

  @Option(names = "--consumers", paramLabel = "N", defaultValue = "0",
      description = "WebSocket consumers on /sub; 0 = publish only (default: ${DEFAULT-VALUE})")
  int consumers;

  @Option(names = "--rdy", paramLabel = "N", defaultValue = "1000", description = "RDY of each consumer (default: ${DEFAULT-VALUE})")
  int rdy;

  @Option(names = "--format", paramLabel = "binary|json", defaultValue = "binary", description = "consumer frame format: binary or json (default: ${DEFAULT-VALUE})")
  Format format;

  @Option(names = "--duration", paramLabel = "DURATION", defaultValue = "10s", converter = NodeClient.DurationConverter.class,
      description = "how long to publish, such as 500ms, 10s, 1m (default: ${DEFAULT-VALUE})")
  Duration duration;

  @Option(names = "--rate", paramLabel = "MSGS_PER_S", defaultValue = "0",
      description = "fixed total publish rate in messages per second, spread evenly over the publishers; latencies are then"
          + " measured from each request's scheduled time. 0 = as fast as possible (default: ${DEFAULT-VALUE})")
  long rate;

  @Option(names = "--warmup", paramLabel = "DURATION", defaultValue = "0s", converter = NodeClient.DurationConverter.class,
      description = "run the same load for this long first, on the same connections and consumers, unmeasured: the bench's"
          + " own JVM is warm (compiled, heap sized) and its connections open when --duration starts (default: ${DEFAULT-VALUE})")
  Duration warmup;

  @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "30s", converter = NodeClient.DurationConverter.class,
      description = "with consumers: how long after the last publish to wait for every acknowledged message (default: ${DEFAULT-VALUE})")
  Duration drainTimeout;

  @Option(names = "--msg-id-from", paramLabel = "line|sequence",
      description = "give every message an X-Herald-Msg-Id: the hash of its bytes (line) or its name in the run (sequence);"
          + " /mpub then uses the binary layout with ids, and every ambiguous answer (connection lost, timeout, 5xx)"
          + " is retried with the same ids until acknowledged or the drain timeout after the run")
  MsgIds msgIdFrom;

  @Option(names = "--mpub-binary",
      description = "send /mpub in NSQ's binary layout ([count]([size][bytes])*) also without ids, instead of newline-separated"
          + " text; with --msg-id-from /mpub is always binary (Herald's layout with ids), so this compares the two alike")
  boolean mpubBinary;

  @Option(names = "--slow-log", paramLabel = "FILE",
      description = "write every request answered and message delivered later than --slow-ms in the measured run to FILE,"
          + " one line each: ack|e2e, its due time in CLOCK_MONOTONIC seconds (to line up with perf record -k CLOCK_MONOTONIC"
          + " or a JVM log's uptime), latency in ms, publisher, sequence")
  java.nio.file.Path slowLog;

  @Option(names = "--slow-ms", paramLabel = "MS", defaultValue = "5", description = "threshold of --slow-log (default: ${DEFAULT-VALUE})")
  double slowMs;

  @Option(names = "--slow-max", paramLabel = "N", defaultValue = "100000",
      description = "--slow-log keeps the N slowest lines (memory stays bounded); how many more it left out is printed"
          + " after the run (default: ${DEFAULT-VALUE})")
  int slowMax;

  @Option(names = "--json", description = "print one JSON result at the end on stdout (progress goes to stderr)")
  boolean json;

  private List<URI> bases;
  private List<java.net.InetSocketAddress> tcpAddresses;
  /** Where consumers SUB over NSQ TCP; empty: WebSocket on /sub. */
  private List<java.net.InetSocketAddress> subAddresses;
  private PrintWriter progressOut;

  @Override
  public Integer call() throws Exception {
    validate();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    progressOut = json ? err : out;

    HttpClient pingClient = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(CONNECT_TIMEOUT).build();
    for (URI base : tcpAddresses.isEmpty() ? bases : List.<URI>of()) {
      String problem = ping(pingClient, base);
      if (problem != null) {
        err.println("bench: cannot reach herald at " + base + " (GET /ping: " + problem + ")");
        err.flush();
        return 1;
      }
    }

    return run(out, err);
  }

  /** Whether /mpub goes in a binary layout: asked for, or needed to carry ids. */
  private boolean binaryMpub() {
    return batch > 1 && (mpubBinary || msgIdFrom != null);
  }

  /** One run: warm up, publish and consume for --duration, drain, verify, report to {@code out}. */
  private int run(PrintWriter out, PrintWriter err) throws Exception {
    Duration length = duration;
    long run = ThreadLocalRandom.current().nextLong(1L << 32);
    BenchStats stats = new BenchStats();
    if (slowLog != null) stats.slowAbove(Math.round(slowMs * 1000), slowMax);
    BenchLedger[] ledgers = new BenchLedger[publishers];
    Histogram[] ackHistograms = new Histogram[publishers];
    for (int i = 0; i < publishers; i++) {
      ledgers[i] = new BenchLedger();
      ackHistograms[i] = new Histogram(MAX_LATENCY_MICROS, 3);
    }

    progress(String.format(Locale.ROOT, "bench: run %08x, topic %s, %d publisher(s) over %d address(es), %s%s, %d-byte messages, %s%s, %s",
        run, topic, publishers, tcpAddresses.isEmpty() ? bases.size() : tcpAddresses.size(),
        (tcpAddresses.isEmpty() ? "" : "tcp ") + (batch == 1 ? tcpAddresses.isEmpty() ? "/pub" : "PUB" : (tcpAddresses.isEmpty() ? "/mpub" : "MPUB") + " batch " + batch + (tcpAddresses.isEmpty() && binaryMpub() ? " binary" : "")),
        msgIdFrom == null ? "" : " with ids from " + msgIdFrom + " (ambiguous answers retried)", size,
        consumers == 0 ? "no consumers"
            : consumers + " " + (subAddresses.isEmpty() ? format.toString() : "tcp") + " consumer(s) on channel " + channel + " with RDY " + rdy,
        rate > 0 ? ", rate " + rate + " msgs/s" : "", human(length)));

    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "bench-timer");
      t.setDaemon(true);
      return t;
    });

    // Consumers first: the channel must exist before the first publish to see every message.
    // Frames are handled on the client's selector thread: a hand-off to a worker thread per frame added
    // its wake-up to every end-to-end figure.
    HttpClient wsClient = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).executor(Runnable::run).build();
    List<BenchConsumer> subs = new ArrayList<>();
    List<Histogram> e2eHistograms = new ArrayList<>();
    long connecting = System.nanoTime();
    try {
      for (int i = 0; i < consumers; i++) {
        Histogram h = new Histogram(MAX_LATENCY_MICROS, 3);
        BenchConsumer c = new BenchConsumer(run, ledgers, stats, h);
        Object where = subAddresses.isEmpty() ? subUri(bases.get(i % bases.size())) : subAddresses.get(i % subAddresses.size());
        try {
          if (where instanceof URI uri) c.connect(wsClient, uri, rdy, CONNECT_TIMEOUT.multipliedBy(2));
          else c.connectTcp((java.net.InetSocketAddress) where, topic, channel, rdy, subUnbuffered, CONNECT_TIMEOUT.multipliedBy(2));
        } catch (Exception e) {
          err.println("bench: consumer " + (i + 1) + " could not subscribe at " + where + " (" + BenchStats.describe(e) + ")");
          err.flush();
          c.close();
          return 1;
        }
        subs.add(c);
        e2eHistograms.add(h);
      }

      // Publish. A backlog's consumers take messages from their RDY on: their run starts as they connect.
      // A warm-up is the first part of the same run, on the same connections: a fresh JVM compiles the
      // bench's own paths and sizes its heap in its first seconds (GC pauses up to 50 ms, measured), and
      // new connections and subscriptions cost their first requests tens of ms; none of it is the
      // latency of a steady load. Requests due in it are verified, not counted.
      long start = publishers == 0 ? connecting : System.nanoTime();
      long measureFrom = start + warmup.toNanos();
      long end = measureFrom + length.toNanos();
      stats.measureFrom(measureFrom);
      if (!warmup.isZero()) progress("bench: warming up for " + human(warmup) + " with the same load (not measured)");
      Thread[] threads = new Thread[publishers];
      for (int i = 0; i < publishers; i++) {
        threads[i] = new Thread(new Publisher(i, start, end, run, ledgers[i], ackHistograms[i], stats),
            "bench-publisher-" + i);
        threads[i].setDaemon(true);
        threads[i].start();
      }
      Progress progress = new Progress(stats, start);
      progress.phase = !warmup.isZero() ? "warm-up" : publishers == 0 ? "consume" : "publish";
      timer.scheduleAtFixedRate(progress::tick, 1, 1, TimeUnit.SECONDS);
      long wait;
      while ((wait = measureFrom - System.nanoTime()) > 0) TimeUnit.NANOSECONDS.sleep(wait);
      if (!warmup.isZero()) progress.phase = publishers == 0 ? "consume" : "publish";
      long[] gcAtStart = gcCountAndMillis();
      try {
        for (Thread t : threads) t.join(); // each request has a timeout, so this ends
        if (publishers == 0) {
          // Consuming a backlog: the consumers read for the whole run (the rate counts to the last delivery).
          while (System.nanoTime() - end < 0 && !subs.stream().allMatch(BenchConsumer::isClosed)) Thread.sleep(50);
        }
        long published = System.nanoTime();
        progress.phase = "drain";

        // Drain: wait until every acknowledged message was consumed, or the deadline.
        long deadline = published + drainTimeout.toNanos();
        long missing = 0;
        if (consumers > 0) {
          while (true) {
            missing = 0;
            for (BenchLedger l : ledgers) missing += l.missing();
            progress.missing = missing;
            if (missing == 0 || System.nanoTime() > deadline || subs.stream().allMatch(BenchConsumer::isClosed)) break;
            Thread.sleep(50);
          }
        }
        timer.shutdownNow();
        timer.awaitTermination(2, TimeUnit.SECONDS);
        long drained = System.nanoTime();
        long[] gc = gcCountAndMillis();
        gc[0] -= gcAtStart[0];
        gc[1] -= gcAtStart[1];
        for (BenchConsumer c : subs) c.close();
        if (slowLog != null) {
          java.nio.file.Files.write(slowLog, stats.slowLines());
          long leftOut = stats.slowLeftOut();
          if (leftOut > 0) {
            progress("bench: --slow-log kept the " + slowMax + " slowest; " + leftOut + " more later than --slow-ms were left out"
                + " (--slow-max)");
          }
        }
        return report(run, stats, ledgers, ackHistograms, e2eHistograms, subs, measureFrom, published, drained, gc, out, err);
      } finally {
        timer.shutdownNow();
      }
    } finally {
      for (BenchConsumer c : subs) c.close();
      timer.shutdownNow();
    }
  }

  // ---- publishing -------------------------------------------------------------------------------

  /** One publisher: a thread and a connection with one request in flight, until the end of the run. */
  private final class Publisher implements Runnable {
    private final BenchConnection connection;
    /** With --tcp: NSQ's PUB/MPUB instead of HTTP. */
    private final BenchNsqConnection nsq;
    private final byte[] nsqLine;
    private final String path;
    private final int index;
    private final long end;
    /** Past the warm-up: the ledger counts from here. */
    private boolean counting;
    private final BenchLedger ledger;
    private final Histogram ack;
    /** The warm-up's answers: recorded by the same code as the measured ones, so that it is compiled by then. */
    private final Histogram warmUpAck = new Histogram(MAX_LATENCY_MICROS, 3);
    private final BenchStats stats;
    private final byte[] template;
    /** With --rate: one request every `interval` ns, staggered across publishers. 0: back to back. */
    private final long interval;
    private long next;

    Publisher(int index, long start, long end, long run, BenchLedger ledger, Histogram ack, BenchStats stats) {
      this.index = index;
      this.end = end;
      this.ledger = ledger;
      this.ack = ack;
      this.stats = stats;
      this.connection = new BenchConnection(bases.get(index % bases.size()), CONNECT_TIMEOUT, REQUEST_TIMEOUT);
      this.nsq = tcpAddresses.isEmpty() ? null
          : new BenchNsqConnection(tcpAddresses.get(index % tcpAddresses.size()), CONNECT_TIMEOUT, REQUEST_TIMEOUT);
      this.nsqLine = ((batch == 1 ? "PUB " : "MPUB ") + topic + "\n").getBytes(StandardCharsets.UTF_8);
      this.path = (batch == 1 ? "/pub" : "/mpub") + "?topic=" + URLEncoder.encode(topic, StandardCharsets.UTF_8)
          + (!binaryMpub() ? "" : msgIdFrom != null ? "&binary=true&msg_ids=true" : "&binary=true");
      this.template = BenchBody.template(size, (int) run, index);
      this.interval = rate > 0 ? Math.max(1, (long) (1e9 * batch * publishers / rate)) : 0;
      this.next = start + (rate > 0 ? interval * index / publishers : 0);
    }

    @Override
    public void run() {
      try {
        publish();
      } finally {
        connection.close();
        if (nsq != null) nsq.close();
      }
    }

    private void publish() {
      long seq = 0;
      while (!Thread.currentThread().isInterrupted()) {
        long scheduled;
        if (interval > 0) {
          // Requests fall due every `interval`; one that is late goes out at once and its latency
          // counts from when it was due (no coordinated omission). Nothing is sent after the end:
          // a node slower than --rate shows as a lower published rate and growing latencies.
          if (next - end >= 0 || System.nanoTime() - end >= 0) return;
          long wait;
          while ((wait = next - System.nanoTime()) > 0) LockSupport.parkNanos(wait);
          scheduled = next;
          next += interval;
        } else {
          scheduled = System.nanoTime();
          if (scheduled - end >= 0) return;
        }
        byte[] body = nsq != null ? BenchBody.nsqCommand(nsqLine, template, seq, batch, stats.micros(scheduled))
            : binaryMpub()
            ? BenchBody.binaryRequest(template, seq, batch, stats.micros(scheduled), msgIdFrom)
            : BenchBody.request(template, seq, batch, stats.micros(scheduled));
        String header = msgIdFrom != null && batch == 1
            ? "X-Herald-Msg-Id: " + new String(BenchBody.id(body, msgIdFrom), StandardCharsets.US_ASCII) : null;
        boolean measured = stats.measured(stats.micros(scheduled));
        if (measured && !counting) {
          counting = true;
          ledger.countFrom(seq);
        }
        ledger.sent(batch);
        // With ids, an answer that leaves the outcome unknown is retried with the same body and ids:
        // the node stores it once. Without ids the publisher moves on (a retry could store it twice).
        long retryUntil = end + drainTimeout.toNanos();
        while (true) {
          boolean ambiguous;
          try {
            BenchConnection.Response response = nsq == null
                ? connection.post(path, "application/octet-stream", body, header) : nsqPublish(body);
            long latency = (System.nanoTime() - scheduled) / 1000;
            if (response.status() == 200) {
              ledger.acked(seq, batch);
              stats.acked.add(batch);
              (measured ? ack : warmUpAck).recordValue(Math.min(MAX_LATENCY_MICROS, Math.max(0, latency)));
              stats.slow(false, stats.micros(scheduled), latency, index, seq);
              break;
            }
            stats.error((nsq == null ? "http " + response.status() : "tcp") + errorCode(response.body()));
            ambiguous = response.status() >= 500;
          } catch (IOException e) {
            stats.error(BenchStats.kind(e));
            ambiguous = true;
          }
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50)); // do not spin on a failing node
          if (msgIdFrom == null || !ambiguous || System.nanoTime() - retryUntil >= 0) break;
          stats.retries.add(batch);
        }
        seq += batch;
      }
    }

    /** An NSQ answer as an HTTP one, so both count alike: 200 for OK, else the error code. */
    private BenchConnection.Response nsqPublish(byte[] command) throws IOException {
      String error = nsq.publish(command);
      return error == null ? new BenchConnection.Response(200, "") : new BenchConnection.Response(0, "{\"message\":\"" + error + "\"}");
    }
  }

  private static String errorCode(String body) {
    Matcher m = Pattern.compile("\"message\"\\s*:\\s*\"([A-Z_]+)\"").matcher(body == null ? "" : body);
    return m.find() ? " " + m.group(1) : "";
  }

  private static String ping(HttpClient client, URI base) {
    try {
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(base.resolve("/ping")).timeout(Duration.ofSeconds(5)).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? null : "HTTP " + r.statusCode();
    } catch (IOException e) {
      return BenchStats.describe(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  private URI subUri(URI base) {
    String scheme = "https".equals(base.getScheme()) ? "wss" : "ws";
    return URI.create(scheme + "://" + base.getRawAuthority() + "/sub?topic=" + URLEncoder.encode(topic, StandardCharsets.UTF_8)
        + "&channel=" + URLEncoder.encode(channel, StandardCharsets.UTF_8) + "&format=" + format);
  }

  // ---- progress and report ----------------------------------------------------------------------

  private final class Progress {
    private final BenchStats stats;
    private final long start;
    private long lastAcked;
    private long lastDelivered;
    volatile String phase = "publish";
    volatile long missing = -1;

    Progress(BenchStats stats, long start) {
      this.stats = stats;
      this.start = start;
    }

    void tick() {
      long acked = stats.acked.sum();
      long delivered = stats.delivered.sum();
      long seconds = Math.round((System.nanoTime() - start) / 1e9);
      String line = String.format(Locale.ROOT, "[%3ds %-7s] published %,9d msgs/s  consumed %,9d msgs/s  errors %,d",
          seconds, phase, acked - lastAcked, delivered - lastDelivered, stats.errorCount.sum());
      if ("drain".equals(phase) && missing >= 0) line += String.format(Locale.ROOT, "  not yet consumed %,d", missing);
      lastAcked = acked;
      lastDelivered = delivered;
      progress(line);
    }
  }

  private void progress(String line) {
    progressOut.println(line);
    progressOut.flush();
  }

  private int report(long run, BenchStats stats, BenchLedger[] ledgers, Histogram[] ackHistograms, List<Histogram> e2eHistograms,
      List<BenchConsumer> subs, long start, long published, long drained, long[] gc, PrintWriter out, PrintWriter err) {
    long sent = 0, acked = 0, distinct = 0, duplicates = 0, missing = 0, unacked = 0, missingInWarmUp = 0;
    String firstMissing = null;
    for (int i = 0; i < ledgers.length; i++) {
      missingInWarmUp += ledgers[i].missingBefore();
      BenchLedger.Counts c = ledgers[i].counts();
      sent += c.sent();
      acked += c.acked();
      distinct += c.consumedDistinct();
      duplicates += c.duplicates();
      missing += c.missing();
      unacked += c.consumedUnacked();
      if (firstMissing == null && c.firstMissing() >= 0) firstMissing = "publisher " + i + " seq " + c.firstMissing();
    }
    if (consumers == 0) missing = missingInWarmUp = 0; // nothing to verify
    Histogram ack = new Histogram(MAX_LATENCY_MICROS, 3);
    for (Histogram h : ackHistograms) ack.add(h);
    Histogram e2e = new Histogram(MAX_LATENCY_MICROS, 3);
    for (Histogram h : e2eHistograms) {
      synchronized (h) {
        e2e.add(h);
      }
    }
    // Counted after the warm-up: this run's messages published then, or (a backlog) other runs' messages delivered then.
    long delivered = publishers == 0 ? stats.measuredForeign.sum() : stats.measuredDelivered.sum();
    long lastDelivery = subs.stream().mapToLong(BenchConsumer::lastDeliveryNanos).max().orElse(0);
    double publishSeconds = (published - start) / 1e9;
    double consumeSeconds = lastDelivery == 0 ? 0 : (lastDelivery - start) / 1e9;
    double publishRate = acked / publishSeconds;
    double megabytes = acked * (double) size / 1e6 / publishSeconds;
    double consumeRate = consumeSeconds > 0 ? delivered / consumeSeconds : 0;
    Map<String, Long> errors = stats.errors();

    // Without publishers every message is another run's: all count as consumed.
    long consumed = delivered;
    String failure = null;
    if (publishers == 0 && delivered == 0) failure = "nothing was consumed" + (errors.isEmpty() ? "" : " (errors: " + errors + ")");
    else if (publishers > 0 && acked == 0) failure = "no message was acknowledged" + (errors.isEmpty() ? "" : " (errors: " + errors + ")");
    else if (missing > 0) {
      failure = String.format(Locale.ROOT, "%,d acknowledged message(s) were not consumed within %s of the last publish (first: %s)",
          missing, human(drainTimeout), firstMissing);
    } else if (missingInWarmUp > 0) {
      failure = String.format(Locale.ROOT, "%,d message(s) acknowledged in the warm-up were not consumed within %s of the last publish",
          missingInWarmUp, human(drainTimeout));
    }
    int code = failure == null ? 0 : 1;

    if (json) {
      ObjectMapper mapper = new ObjectMapper();
      ObjectNode r = mapper.createObjectNode();
      r.put("run", String.format("%08x", run));
      ObjectNode cfg = r.putObject("config");
      var addresses = cfg.putArray("http");
      bases.forEach(b -> addresses.add(b.toString()));
      cfg.put("topic", topic);
      cfg.put("channel", channel);
      cfg.put("size", size);
      cfg.put("batch", batch);
      cfg.put("publishers", publishers);
      cfg.put("consumers", consumers);
      cfg.put("rdy", rdy);
      cfg.put("format", format.name());
      cfg.put("duration_s", duration.toMillis() / 1000.0);
      cfg.put("rate", rate);
      cfg.put("msg_id_from", msgIdFrom == null ? null : msgIdFrom.name());
      cfg.put("mpub_binary", binaryMpub());
      r.put("sent", sent);
      r.put("acknowledged", acked);
      r.put("unacknowledged", sent - acked);
      r.put("retried", stats.retries.sum());
      r.put("publish_seconds", round(publishSeconds, 3));
      r.put("publish_msgs_per_s", round(publishRate, 1));
      r.put("publish_mb_per_s", round(megabytes, 2));
      r.put("consumed", consumed);
      r.put("consumed_distinct", distinct);
      r.put("consume_seconds", round(consumeSeconds, 3));
      r.put("consume_msgs_per_s", round(consumeRate, 1));
      r.put("duplicates", duplicates);
      r.put("duplicates_with_attempts_1", stats.duplicatesFirstAttempt.sum());
      var examples = r.putArray("duplicate_examples");
      stats.duplicateExamples().forEach(examples::add);
      r.put("missing", missing);
      r.put("consumed_unacknowledged", unacked);
      r.put("foreign", stats.foreign.sum());
      r.put("drain_seconds", round((drained - published) / 1e9, 3));
      latencyJson(r.putObject("ack_latency_ms"), ack);
      latencyJson(r.putObject("e2e_latency_ms"), e2e);
      r.put("bench_gc_collections", gc[0]);
      r.put("bench_gc_ms", gc[1]);
      ObjectNode errs = r.putObject("errors");
      errors.forEach(errs::put);
      if (slowLog != null) r.put("slow_log_left_out", stats.slowLeftOut());
      r.put("ok", failure == null);
      if (failure != null) r.put("failure", failure);
      out.println(r.toString());
    } else {
      out.println();
      if (publishers > 0) {
        out.printf(Locale.ROOT, "published:    %,d msgs acknowledged in %.2f s = %,.0f msgs/s, %.2f MB/s (%,d sent, %,d unacknowledged)%n",
            acked, publishSeconds, publishRate, megabytes, sent, sent - acked);
      }
      if (rate > 0) {
        out.printf(Locale.ROOT, "rate:         target %,d msgs/s, achieved %,.0f msgs/s%n", rate, publishRate);
      }
      if (msgIdFrom != null) {
        out.printf(Locale.ROOT, "ids:          X-Herald-Msg-Id from %s; %,d msgs published again with the same ids after an"
            + " ambiguous answer%n", msgIdFrom, stats.retries.sum());
      }
      if (publishers > 0) out.println("ack latency:  " + latencyLine(ack) + "   (per request" + (rate > 0 ? ", from its scheduled time)" : ")"));
      if (consumers > 0 && publishers == 0) {
        out.printf(Locale.ROOT, "consumed:     %,d msgs in %.2f s = %,.0f msgs/s (what the channel held; to the last delivery)%n",
            consumed, consumeSeconds, consumeRate);
      } else if (consumers > 0) {
        out.printf(Locale.ROOT, "consumed:     %,d msgs in %.2f s = %,.0f msgs/s%s%n", consumed, consumeSeconds,
            consumeRate, stats.foreign.sum() > 0 ? String.format(Locale.ROOT, " (and %,d from other runs, FINed)", stats.foreign.sum()) : "");
        out.println("e2e latency:  " + latencyLine(e2e) + "   (publish to delivery, first deliveries)");
        out.printf(Locale.ROOT, "verify:       %,d acknowledged, %,d consumed at least once, %,d missing, %,d duplicates,"
            + " %,d consumed but unacknowledged%n", acked, distinct - unacked, missing, duplicates, unacked);
        if (duplicates > 0) {
          out.printf(Locale.ROOT, "duplicates:   %,d delivered again with attempts 1 (not a timeout or requeue); e.g. %s%n",
              stats.duplicatesFirstAttempt.sum(), String.join(", ", stats.duplicateExamples()));
        }
      }
      // Its own pauses hold back sends and reads alike and count in every figure above.
      out.printf(Locale.ROOT, "bench JVM:    %,d collections, %,d ms in GC (this process, from the first publish to the drain)%n",
          gc[0], gc[1]);
      out.println("errors:       " + (errors.isEmpty() ? "none" : errors.toString()));
    }
    out.flush();
    if (failure != null) {
      err.println("bench: " + failure);
      err.flush();
    }
    return code;
  }

  /** Collections and milliseconds spent in them by this JVM so far, over every collector. */
  private static long[] gcCountAndMillis() {
    long count = 0, millis = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      count += Math.max(0, gc.getCollectionCount());
      millis += Math.max(0, gc.getCollectionTime());
    }
    return new long[] {count, millis};
  }

  private static void latencyJson(ObjectNode n, Histogram h) {
    n.put("count", h.getTotalCount());
    if (h.getTotalCount() == 0) return;
    n.put("p50", ms(h.getValueAtPercentile(50)));
    n.put("p99", ms(h.getValueAtPercentile(99)));
    n.put("p99_9", ms(h.getValueAtPercentile(99.9)));
    n.put("max", ms(h.getMaxValue()));
    n.put("mean", round(h.getMean() / 1000.0, 3));
  }

  private static String latencyLine(Histogram h) {
    if (h.getTotalCount() == 0) return "no samples";
    return String.format(Locale.ROOT, "p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms  (%,d samples)",
        ms(h.getValueAtPercentile(50)), ms(h.getValueAtPercentile(99)), ms(h.getValueAtPercentile(99.9)), ms(h.getMaxValue()),
        h.getTotalCount());
  }

  private static double ms(long micros) {
    return micros / 1000.0;
  }

  private static double round(double v, int places) {
    if (Double.isNaN(v) || Double.isInfinite(v)) return 0;
    double f = Math.pow(10, places);
    return Math.round(v * f) / f;
  }

  private static String human(Duration d) {
    long ms = d.toMillis();
    if (ms % 60_000 == 0 && ms > 0) return ms / 60_000 + "m";
    if (ms % 1000 == 0) return ms / 1000 + "s";
    return ms + "ms";
  }

  // ---- flags ------------------------------------------------------------------------------------

  private void validate() {
    CommandLine cl = spec.commandLine();
    if (size < BenchBody.HEADER) throw new ParameterException(cl, "--size must be at least " + BenchBody.HEADER + " (bytes)");
    if (batch < 1) throw new ParameterException(cl, "--batch must be at least 1");
    if (publishers < 0 || publishers > 0xFFFF) throw new ParameterException(cl, "--publishers must be from 0 to 65535");
    if (publishers == 0 && consumers == 0) {
      throw new ParameterException(cl, "--publishers 0 needs --consumers: they consume what the channel holds");
    }
    if (consumers < 0) throw new ParameterException(cl, "--consumers must be 0 or more");
    if (rdy < 1) throw new ParameterException(cl, "--rdy must be at least 1");
    if (slowMax < 1) throw new ParameterException(cl, "--slow-max must be at least 1");
    if (rate < 0) throw new ParameterException(cl, "--rate must be 0 or more");
    if (duration.isZero()) throw new ParameterException(cl, "--duration must be above 0");
    if (topic.isBlank()) throw new ParameterException(cl, "--topic must not be empty");
    if (channel.isBlank()) throw new ParameterException(cl, "--channel must not be empty");
    tcpAddresses = tcpAddresses(cl, "--tcp", tcp);
    List<java.net.InetSocketAddress> subTcpAddresses = tcpAddresses(cl, "--sub-tcp", subTcp);
    subAddresses = subTcpAddresses.isEmpty() ? tcpAddresses : subTcpAddresses;
    if (!tcpAddresses.isEmpty() && msgIdFrom != null) {
      throw new ParameterException(cl, "--msg-id-from is for HTTP publishers: NSQ's TCP protocol has no message ids");
    }
    List<String> addresses = http == null || http.isEmpty() ? List.of("127.0.0.1:4151") : http;
    bases = new ArrayList<>();
    for (String a : addresses) bases.add(NodeClient.baseUri(cl, a));
  }

  private static List<java.net.InetSocketAddress> tcpAddresses(CommandLine cl, String option, List<String> given) {
    List<java.net.InetSocketAddress> addresses = new ArrayList<>();
    for (String a : given == null ? List.<String>of() : given) {
      try {
        addresses.add(BenchNsqConnection.address(a));
      } catch (IllegalArgumentException e) {
        throw new ParameterException(cl, option + " must be HOST:PORT, got '" + a + "'");
      }
    }
    return addresses;
  }
}
