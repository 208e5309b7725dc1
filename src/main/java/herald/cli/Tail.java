package herald.cli;

import herald.settings.Version;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;

/** {@code herald tail}: nsq_tail. Prints a topic's messages through an ephemeral channel of its own. */
@Command(name = "tail", mixinStandardHelpOptions = true, versionProvider = Version.class, sortOptions = false,
    usageHelpWidth = 110,
    description = {
        "Prints the messages of a topic, one body per line, as they are published. It reads through an ephemeral"
            + " channel of its own (tail<random>#ephemeral), FINs each message once printed, and the channel goes"
            + " away when it stops. Like any new channel, it sees messages published after it subscribed (or, on a"
            + " topic without durable channels, what the topic keeps for the first one, which it leaves there);"
            + " --from earliest prints what the topic retains first.",
        "Exit code: 0 after -n messages (or never without -n); 1 when the node cannot be reached or drops the"
            + " connection; 2 for bad flags."})
public final class Tail implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Mixin
  SecretOption secret;

  @Option(names = "--http", paramLabel = "HOST:PORT", defaultValue = NodeClient.DEFAULT_ADDRESS,
      description = "node HTTP address (default: ${DEFAULT-VALUE})")
  String http;

  @Option(names = "--topic", paramLabel = "NAME", required = true, description = "topic to print")
  String topic;

  @Option(names = {"-n", "--messages"}, paramLabel = "N", defaultValue = "0",
      description = "stop after N messages; 0 = run until interrupted (default: ${DEFAULT-VALUE})")
  long messages;

  @Option(names = "--from", paramLabel = "earliest|latest|UNIX-MS",
      description = "start at the earliest message the topic retains, at its end, or at the first published at or after"
          + " a time (default: as any new channel)")
  String from;

  @Option(names = "--rdy", paramLabel = "N", defaultValue = "200", description = "messages in flight at most (default: ${DEFAULT-VALUE})")
  long rdy;

  @Override
  public Integer call() throws Exception {
    if (messages < 0) throw new ParameterException(spec.commandLine(), "-n must be 0 or more");
    if (rdy < 1) throw new ParameterException(spec.commandLine(), "--rdy must be at least 1");
    if (from != null && !from.matches("earliest|latest|\\d{1,15}")) {
      throw new ParameterException(spec.commandLine(), "--from must be earliest, latest or a time in unix ms");
    }
    NodeClient node = NodeClient.of(spec.commandLine(), http, secret);
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String channel = "tail" + ThreadLocalRandom.current().nextInt(1_000_000, 10_000_000) + "#ephemeral";
    try {
      node.ping();
      try (Subscriber sub = Subscriber.connect(node, topic, channel, from, rdy, messages, w -> {
        err.println("tail: " + w);
        err.flush();
      })) {
        while (sub.wanted() > 0) {
          Subscriber.Message m = sub.next(Duration.ofSeconds(1));
          if (m == null) continue;
          out.println(new String(m.body(), StandardCharsets.UTF_8));
          out.flush();
          sub.fin(m.id());
        }
      }
      return 0;
    } catch (NodeClient.Failure f) {
      out.flush();
      err.println("tail: " + f.getMessage());
      err.flush();
      return 1;
    }
  }
}
