package herald.cli;

import com.fasterxml.jackson.databind.JsonNode;
import herald.settings.Version;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/** {@code herald pub}: to_nsq. Publishes the lines of standard input, batched with /mpub. */
@Command(name = "pub", mixinStandardHelpOptions = true, versionProvider = Version.class, sortOptions = false,
    usageHelpWidth = 110,
    description = {
        "Publishes each line of standard input as one message (the newline removed; empty lines skipped; any other"
            + " byte, \\r included, kept). Lines are sent with POST /mpub in batches of up to --batch-size lines,"
            + " or what arrived within 5 ms of a batch's first line, one request at a time and in order. With --rate"
            + " a batch holds the lines due by the time it goes, so a slow answer does not lower the rate.",
        "Prints how many messages were published. It stops at the first batch the node does not answer with 200.",
        "With --msg-id-from every message gets an X-Herald-Msg-Id (binary /mpub with ids), and a batch whose outcome is"
            + " unknown (connection lost, timeout, 5xx) is sent again with the same ids for up to 60 s: the node stores it once.",
        "Exit code: 0 when every line was published; 1 when the node cannot be reached or a batch failed; 2 for bad flags."})
public final class Pub implements Callable<Integer> {
  private static final long LINGER_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
  private static final byte[] EOF = new byte[0];
  private volatile String inputFailure;

  @Spec
  CommandSpec spec;

  @Mixin
  SecretOption secret;

  @Option(names = "--http", paramLabel = "HOST:PORT",
      description = "node HTTP address; repeat to send batches to several nodes in turn (default: " + NodeClient.DEFAULT_ADDRESS + ")")
  List<String> http;

  @Option(names = "--topic", paramLabel = "NAME", required = true, description = "topic to publish to")
  String topic;

  @Option(names = "--batch-size", paramLabel = "N", defaultValue = "100", description = "lines per /mpub at most (default: ${DEFAULT-VALUE})")
  int batchSize;

  @Option(names = "--rate", paramLabel = "MSGS_PER_S", defaultValue = "0",
      description = "publish at most this many messages per second; 0 = as fast as the node takes them (default: ${DEFAULT-VALUE})")
  long rate;

  @Option(names = "--msg-id-from", paramLabel = "line|sequence",
      description = "give each message an id: the hash of the line (equal lines are one message within the node's dedup"
          + " window) or --msg-id-prefix and the line's number in the input")
  MsgIds msgIdFrom;

  @Option(names = "--msg-id-prefix", paramLabel = "TEXT",
      description = "with --msg-id-from sequence: the ids' prefix; the same prefix over the same input publishes each"
          + " line once (default: a random one per run)")
  String msgIdPrefix;

  private static final long RETRY_NANOS = TimeUnit.SECONDS.toNanos(60);

  @Override
  public Integer call() throws Exception {
    if (batchSize < 1) throw new ParameterException(spec.commandLine(), "--batch-size must be at least 1");
    if (rate < 0) throw new ParameterException(spec.commandLine(), "--rate must be 0 or more");
    if (msgIdPrefix == null) msgIdPrefix = String.format("%08x", java.util.concurrent.ThreadLocalRandom.current().nextInt());
    // The longest line number is 19 digits; an id is at most 64 characters of visible ASCII.
    if (msgIdPrefix.length() > 44 || !msgIdPrefix.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new ParameterException(spec.commandLine(), "--msg-id-prefix must be up to 44 characters of visible ASCII");
    }
    List<NodeClient> nodes = new ArrayList<>();
    for (String a : http == null || http.isEmpty() ? List.of(NodeClient.DEFAULT_ADDRESS) : http) {
      nodes.add(NodeClient.of(spec.commandLine(), a, secret));
    }
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    long published = 0;
    try {
      // /info: the node answers, and says how large a message and a request may be.
      long maxMsgSize = Long.MAX_VALUE;
      long maxBodySize = Long.MAX_VALUE;
      for (NodeClient node : nodes) {
        JsonNode limits = node.getJson("/info").path("limits");
        maxMsgSize = Math.min(maxMsgSize, limits.path("max_msg_size").asLong(Long.MAX_VALUE));
        maxBodySize = Math.min(maxBodySize, limits.path("max_body_size").asLong(Long.MAX_VALUE));
      }
      BlockingQueue<byte[]> lines = new ArrayBlockingQueue<>(Math.max(1000, batchSize * 4));
      InputStream stdin = System.in;
      Thread reader = new Thread(() -> readLines(stdin, lines), "pub-stdin");
      reader.setDaemon(true);
      reader.start();

      String query = "/mpub?topic=" + NodeClient.encode(topic) + (msgIdFrom == null ? "" : "&binary=true&msg_ids=true");
      Pacer pacer = new Pacer(rate);
      long lineNumber = 0;
      boolean eof = false;
      int next = 0;
      while (!eof) {
        byte[] first = lines.take();
        if (first == EOF) break;
        pacer.start(System.nanoTime());
        long due = pacer.dueAt(published);
        while (System.nanoTime() < due) LockSupport.parkNanos(due - System.nanoTime());
        int limit = pacer.dueFrom(published, System.nanoTime(), batchSize);
        List<byte[]> batch = new ArrayList<>();
        batch.add(first);
        long bytes = first.length;
        long until = System.nanoTime() + LINGER_NANOS;
        for (int taken = 1; taken < limit; taken++) {
          byte[] line = lines.poll(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS);
          if (line == null) break;
          if (line == EOF) {
            eof = true;
            break;
          }
          if (bytes + 1 + line.length > maxBodySize) {
            // Too much for one request: it starts the next batch.
            sendBatch(nodes.get(next++ % nodes.size()), query, batch, lineNumber, maxMsgSize);
            published += batch.size();
            lineNumber += batch.size();
            batch = new ArrayList<>();
            bytes = -1;
          }
          batch.add(line);
          bytes += 1 + line.length;
        }
        sendBatch(nodes.get(next++ % nodes.size()), query, batch, lineNumber, maxMsgSize);
        published += batch.size();
        lineNumber += batch.size();
      }
      if (inputFailure != null) throw new NodeClient.Failure("reading standard input failed: " + inputFailure);
      out.println("published " + published + " message" + (published == 1 ? "" : "s") + " to " + topic);
      out.flush();
      return 0;
    } catch (NodeClient.Failure f) {
      out.println("published " + published + " message" + (published == 1 ? "" : "s") + " to " + topic);
      out.flush();
      err.println("pub: " + f.getMessage());
      err.flush();
      return 1;
    }
  }

  private void sendBatch(NodeClient node, String query, List<byte[]> batch, long firstLine, long maxMsgSize)
      throws NodeClient.Failure {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    if (msgIdFrom != null) body.writeBytes(java.nio.ByteBuffer.allocate(4).putInt(batch.size()).array());
    for (int i = 0; i < batch.size(); i++) {
      byte[] line = batch.get(i);
      if (line.length > maxMsgSize) {
        throw new NodeClient.Failure("message " + (firstLine + i + 1) + " is " + line.length
            + " bytes, above the node's max message size of " + maxMsgSize);
      }
      if (msgIdFrom == null) {
        if (i > 0) body.write('\n');
        body.writeBytes(line);
        continue;
      }
      byte[] id = msgIdFrom == MsgIds.line
          ? MsgIds.ofBytes(line, 0, line.length)
          : (msgIdPrefix + "-" + (firstLine + i + 1)).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      body.write(id.length);
      body.writeBytes(id);
      body.writeBytes(java.nio.ByteBuffer.allocate(4).putInt(line.length).array());
      body.writeBytes(line);
    }
    String what = "POST /mpub of " + batch.size() + " message" + (batch.size() == 1 ? "" : "s") + " to " + node.base;
    long giveUp = System.nanoTime() + RETRY_NANOS;
    while (true) {
      String problem;
      boolean ambiguous;
      try {
        HttpResponse<String> r = node.post(query, body.toByteArray());
        if (r.statusCode() == 200) return;
        problem = NodeClient.status(r);
        ambiguous = r.statusCode() >= 500;
      } catch (NodeClient.Failure f) {
        problem = f.getMessage();
        ambiguous = true;
      }
      // With ids an unknown outcome is safe to try again: the node stores the batch once.
      if (msgIdFrom == null || !ambiguous || System.nanoTime() - giveUp >= 0) throw new NodeClient.Failure(what + " failed: " + problem);
      spec.commandLine().getErr().println("pub: " + what + " failed (" + problem + "); sending it again with the same ids");
      spec.commandLine().getErr().flush();
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
    }
  }

  /** Splits on \n, keeps every other byte, skips empty lines, then EOF. */
  private void readLines(InputStream in, BlockingQueue<byte[]> lines) {
    try {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      byte[] buf = new byte[64 * 1024];
      int n;
      while ((n = in.read(buf)) > 0) {
        int from = 0;
        for (int i = 0; i < n; i++) {
          if (buf[i] != '\n') continue;
          line.write(buf, from, i - from);
          if (line.size() > 0) lines.put(line.toByteArray());
          line.reset();
          from = i + 1;
        }
        line.write(buf, from, n - from);
      }
      if (line.size() > 0) lines.put(line.toByteArray());
    } catch (IOException e) {
      inputFailure = String.valueOf(e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    try {
      lines.put(EOF);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
