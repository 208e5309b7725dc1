package herald.protocols.nsq;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import herald.broker.ClientInfo;
import herald.broker.ConsumerProtocol;
import herald.broker.MessageId;
import herald.broker.Names;
import herald.broker.Published;
import herald.broker.Publisher;
import herald.consumer.ConsumerOutput;
import herald.consumer.ConsumerSession;
import herald.consumer.Frames;
import herald.security.Authorizer;
import herald.security.Credentials;
import herald.security.Identity;
import herald.security.Right;
import herald.security.ServerTls;
import herald.stats.TcpProducers;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.util.ByteString;

import javax.net.ssl.SSLSession;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * One NSQ TCP connection: nsqd's Exec. Commands come decoded (NsqDecoder); this actor checks them
 * against the connection's state, publishes through the node's group commit, and hands a
 * subscriber's commands to a {@link ConsumerSession} child, the same session a WebSocket consumer
 * has. It holds no broker state. Its own answers go out in the order the commands came; a publish
 * is answered OK only after its journal write. The session's answers (a FIN/REQ/TOUCH that failed,
 * CLOSE_WAIT) go out when the channel or session gives them, not held behind publishes still being
 * written on the same connection (docs/protocol.md: no NSQ client publishes and consumes on one).
 */
final class NsqConnection extends AbstractBehavior<NsqConnection.Event> {

  interface Event {}

  enum Ack { INSTANCE }

  /** The commands decoded from one read, and the TLS session they came through (null: in clear). */
  record Decoded(List<NsqCommand> commands, SSLSession session) {}

  /** The decoded commands of one read, and whom to ack when the next read may come. */
  record Received(List<NsqCommand> commands, SSLSession session, ActorRef<Ack> ackTo) implements Event {}

  record Opened(ActorRef<Ack> ackTo) implements Event {}

  /** The socket closed or failed. */
  enum ClientGone implements Event { INSTANCE }

  private record Written(Reply reply, String failedCode, String verb, String topic, int messages, Throwable failure)
      implements Event {}

  private enum Heartbeat implements Event { INSTANCE }

  private enum ReadTimedOut implements Event { INSTANCE }

  private record SessionEnded() implements Event {}

  /** The session's answers before a fatal error are out (or taking too long): the error may follow. */
  private enum SessionAnswered implements Event { INSTANCE }

  /** How long a fatal error waits for the session's answers (a channel that does not answer SUB). */
  private static final Duration SESSION_ANSWER_TIMEOUT = Duration.ofSeconds(5);

  private enum Closed implements Event { INSTANCE }

  /** After the last frame, how long the socket may take to close before this actor stops anyway. */
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);

  private record Authorized(Optional<Identity> identity, Throwable failure, boolean refresh) implements Event {}

  /**
   * What the connection needs from the node. With an authorizer, clients must AUTH before SUB and
   * PUB (nsqd's auth); with tlsRequired every command but IDENTIFY is refused until the connection
   * is upgraded to TLS.
   */
  record Params(NsqDecoder.Limits limits, Identify.Offer offer, long maxRdyCount, Publisher publisher,
      Optional<Authorizer> authorizer, boolean tlsRequired, TcpProducers producers) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Completes the outgoing source, which closes the socket (compared by identity). */
  static final ByteString END = ByteString.fromString("END");

  /** Publishes of one connection awaiting their journal write before it reads more. */
  static final int MAX_PENDING_PUBLISHES = 64;

  private enum State { INIT, SUBSCRIBED, CLOSING }

  /** One answer, in command order; a publish's is filled when its write is done. */
  private static final class Reply {
    ByteString bytes;
    boolean close;
    /** IDENTIFY's answer before the TLS upgrade: the last frame in clear. */
    boolean lastInClear;
  }

  static Behavior<Event> create(Params params, String remoteAddress, ActorRef<ByteString> out) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new NsqConnection(ctx, timers, params, remoteAddress, out)));
  }

  private final TimerScheduler<Event> timers;
  private final Params params;
  private final String remoteAddress;
  private final ActorRef<ByteString> out;
  private final ArrayDeque<Reply> replies = new ArrayDeque<>();
  private Identify.Client client;
  private State state = State.INIT;
  private ActorRef<ConsumerProtocol> session;
  private int pendingPublishes;
  private ActorRef<Ack> waitingAck;
  /** Commands read but not done yet: they wait while AUTH asks the authorizer. */
  private final ArrayDeque<NsqCommand> queued = new ArrayDeque<>();
  private boolean authorizing;
  private Identity identity;
  private String secret;
  /**
   * A fatal error waits for the session's answers to the commands before it: SUB's OK (sent once the
   * channel took the consumer on) and CLS's CLOSE_WAIT, which nsqd gives before it reads the next command.
   */
  private boolean awaitingSession;
  /** A fatal error is queued: nothing more is read or done. */
  private boolean closing;
  /** The fatal error is sent: the connection closes. */
  private boolean ended;
  /** IDENTIFY asked for TLS: from its answer on, only what comes through TLS is read. */
  private boolean tls;
  private SSLSession tlsSession;
  private final long connectedAt = System.currentTimeMillis();
  private long lastRead;
  /** Listed in /stats producers from the first acknowledged publish on. */
  private TcpProducers.Producer producer;

  private NsqConnection(ActorContext<Event> ctx, TimerScheduler<Event> timers, Params params, String remoteAddress,
      ActorRef<ByteString> out) {
    super(ctx);
    this.timers = timers;
    this.params = params;
    this.remoteAddress = remoteAddress;
    this.out = out;
    this.client = Identify.defaults(host(remoteAddress), params.offer());
    startHeartbeats();
  }

  private static String host(String address) {
    int colon = address.lastIndexOf(':');
    return colon > 0 ? address.substring(0, colon) : address;
  }

  @Override
  public Receive<Event> createReceive() {
    return newReceiveBuilder()
        .onMessage(Opened.class, o -> {
          o.ackTo().tell(Ack.INSTANCE);
          return this;
        })
        .onMessage(Received.class, this::onReceived)
        .onMessage(Written.class, this::onWritten)
        .onMessage(Authorized.class, this::onAuthorized)
        .onMessage(Heartbeat.class, h -> {
          out.tell(NsqFrames.HEARTBEAT);
          return this;
        })
        // As nsqd: a client that sends nothing for two heartbeats is gone; nothing is said.
        .onMessage(ReadTimedOut.class, t -> readTimedOut())
        .onMessage(SessionEnded.class, e -> close())
        .onMessageEquals(SessionAnswered.INSTANCE, this::onSessionAnswered)
        .onMessageEquals(ClientGone.INSTANCE, () -> {
          close();
          return Behaviors.stopped();
        })
        .build();
  }

  private void startHeartbeats() {
    timers.cancel(Heartbeat.INSTANCE);
    timers.cancel(ReadTimedOut.INSTANCE);
    if (client.heartbeat().isZero()) return;
    timers.startTimerWithFixedDelay(Heartbeat.INSTANCE, client.heartbeat());
    readDeadline();
  }

  /**
   * nsqd's read deadline, two heartbeat intervals after the last read. A read only notes its time
   * (a consumer reads for every few FINs); the one timer, when it fires, looks whether the deadline moved.
   */
  private void readDeadline() {
    lastRead = System.nanoTime();
    if (!client.heartbeat().isZero() && !timers.isTimerActive(ReadTimedOut.INSTANCE)) {
      timers.startSingleTimer(ReadTimedOut.INSTANCE, client.heartbeat().multipliedBy(2));
    }
  }

  private Behavior<Event> readTimedOut() {
    long left = lastRead + client.heartbeat().multipliedBy(2).toNanos() - System.nanoTime();
    if (left <= 0) return close();
    timers.startSingleTimer(ReadTimedOut.INSTANCE, Duration.ofNanos(left));
    return this;
  }

  private Behavior<Event> onReceived(Received r) {
    readDeadline();
    if (r.session() != null) {
      tlsSession = r.session();
    } else if (tls) {
      // Clear text after an IDENTIFY that asked for TLS, read before the switch: not the client's
      // (an injection before the handshake) or not meant to be read; nsqd's reader drops it too.
      getContext().getLog().debug("NSQ client {}: {} commands in clear after the TLS upgrade dropped", remoteAddress, r.commands().size());
      r.ackTo().tell(Ack.INSTANCE);
      return this;
    }
    queued.addAll(r.commands());
    waitingAck = r.ackTo();
    return run();
  }

  /** Does the queued commands until done, closing, or waiting for the authorizer. */
  private Behavior<Event> run() {
    List<Frames.ClientCommand> forSession = new ArrayList<>();
    while (!queued.isEmpty() && !closing && !authorizing) {
      if (identityExpired(queued.peek())) {
        refreshIdentity();
        break;
      }
      exec(queued.poll(), forSession);
    }
    toSession(forSession);
    flush();
    if (ended) return close();
    // A fatal error waits for the publishes before it; nothing more is read meanwhile.
    if (!closing && queued.isEmpty() && waitingAck != null && pendingPublishes < MAX_PENDING_PUBLISHES) {
      waitingAck.tell(Ack.INSTANCE);
      waitingAck = null;
    }
    return this;
  }

  /** nsqd's Exec: one command, in the connection's state. */
  private void exec(NsqCommand cmd, List<Frames.ClientCommand> forSession) {
    if (cmd instanceof NsqCommand.Invalid bad) {
      fatal(forSession, bad.code(), bad.description());
    } else if (cmd instanceof NsqCommand.Identify identify) {
      identify(identify, forSession);
    } else if (params.tlsRequired() && !tls) {
      // nsqd's --tls-required: everything but IDENTIFY waits for the upgrade.
      fatal(forSession, "E_INVALID", "cannot " + verb(cmd) + " in current state (TLS required)");
    } else if (cmd instanceof NsqCommand.Auth auth) {
      auth(auth, forSession);
    } else if (cmd instanceof NsqCommand.Pub pub) {
      if (!authorized(forSession, "PUB", Right.PUBLISH, pub.topic(), "")) return;
      long now = System.currentTimeMillis();
      publish("PUB", "E_PUB_FAILED", pub.topic(), List.of(new Published(pub.body(), now, 0)));
    } else if (cmd instanceof NsqCommand.Dpub dpub) {
      if (!authorized(forSession, "DPUB", Right.PUBLISH, dpub.topic(), "")) return;
      long now = System.currentTimeMillis();
      long deliverAt = dpub.deferMs() > 0 ? now + dpub.deferMs() : 0;
      publish("DPUB", "E_DPUB_FAILED", dpub.topic(), List.of(new Published(dpub.body(), now, deliverAt)));
    } else if (cmd instanceof NsqCommand.Mpub mpub) {
      if (!authorized(forSession, "MPUB", Right.PUBLISH, mpub.topic(), "")) return;
      long now = System.currentTimeMillis();
      List<Published> messages = new ArrayList<>(mpub.bodies().size());
      for (ByteString b : mpub.bodies()) messages.add(new Published(b, now, 0));
      publish("MPUB", "E_MPUB_FAILED", mpub.topic(), messages);
    } else if (cmd instanceof NsqCommand.Line line) {
      line(line.params(), forSession);
    } else if (cmd instanceof NsqCommand.Fins fins) {
      if (inState("FIN", forSession)) forSession.add(new Frames.Fins(fins.offsets()));
    }
  }

  private void line(List<String> p, List<Frames.ClientCommand> forSession) {
    String verb = p.get(0);
    switch (verb) {
      case "NOP" -> { }
      case "SUB" -> sub(p, forSession);
      case "RDY" -> {
        if (state == State.CLOSING) return; // as nsqd: RDY after CLS is ignored
        if (state != State.SUBSCRIBED) {
          fatal(forSession, "E_INVALID", "cannot RDY in current state");
          return;
        }
        long count = 1;
        if (p.size() > 1) {
          count = NsqDecoder.base10(p.get(1));
          if (count < 0) {
            fatal(forSession, "E_INVALID", "RDY could not parse count " + p.get(1));
            return;
          }
        }
        if (count > params.maxRdyCount()) {
          fatal(forSession, "E_INVALID", "RDY count " + count + " out of range 0-" + params.maxRdyCount());
          return;
        }
        forSession.add(new Frames.Rdy(count));
      }
      case "FIN", "TOUCH" -> {
        long offset = messageId(verb, p, 2, forSession);
        if (offset >= 0) forSession.add(verb.equals("FIN") ? new Frames.Fin(offset) : new Frames.Touch(offset));
      }
      case "REQ" -> {
        long offset = messageId(verb, p, 3, forSession);
        if (offset < 0) return;
        long delay = NsqDecoder.base10(p.get(2));
        if (delay < 0) {
          fatal(forSession, "E_INVALID", "REQ could not parse timeout " + p.get(2));
          return;
        }
        // The channel clamps the delay to 0..--max-req-timeout, as nsqd does.
        forSession.add(new Frames.Req(offset, delay));
      }
      case "CLS" -> {
        if (state != State.SUBSCRIBED) {
          fatal(forSession, "E_INVALID", "cannot CLS in current state");
          return;
        }
        state = State.CLOSING;
        forSession.add(new Frames.Cls());
      }
      default -> fatal(forSession, "E_INVALID", "invalid command " + verb);
    }
  }

  /**
   * The message id of FIN, REQ or TOUCH, or -1 once the error is said. nsqd takes any 16 bytes as an
   * id and fails the command (not the connection) for one it does not hold; Herald's ids are hex.
   */
  private long messageId(String verb, List<String> p, int arity, List<Frames.ClientCommand> forSession) {
    if (!inState(verb, forSession)) return -1;
    if (p.size() < arity) {
      fatal(forSession, "E_INVALID", verb + " insufficient number of params");
      return -1;
    }
    String id = p.get(1);
    if (id.length() != 16) { // nsqd: an id is 16 bytes
      fatal(forSession, "E_INVALID", "invalid message ID");
      return -1;
    }
    long offset = MessageId.parse(id);
    if (offset < 0) {
      out.tell(NsqFrames.error("E_" + verb + "_FAILED", verb + " " + id + " failed ID not in flight"));
      return -1;
    }
    return offset;
  }

  /** FIN, REQ and TOUCH need a subscription (or its CLS); false once the error is said. */
  private boolean inState(String verb, List<Frames.ClientCommand> forSession) {
    if (state == State.SUBSCRIBED || state == State.CLOSING) return true;
    fatal(forSession, "E_INVALID", "cannot " + verb + " in current state");
    return false;
  }

  private void sub(List<String> p, List<Frames.ClientCommand> forSession) {
    if (state != State.INIT) {
      fatal(forSession, "E_INVALID", "cannot SUB in current state");
      return;
    }
    if (client.heartbeat().isZero()) {
      fatal(forSession, "E_INVALID", "cannot SUB with heartbeats disabled");
      return;
    }
    if (p.size() < 3) {
      fatal(forSession, "E_INVALID", "SUB insufficient number of parameters");
      return;
    }
    String topic = p.get(1);
    String channel = p.get(2);
    if (!Names.isValid(topic)) {
      fatal(forSession, "E_BAD_TOPIC", "SUB topic name " + NsqDecoder.quoted(topic) + " is not valid");
      return;
    }
    if (!Names.isValid(channel)) {
      fatal(forSession, "E_BAD_CHANNEL", "SUB channel name " + NsqDecoder.quoted(channel) + " is not valid");
      return;
    }
    if (!authorized(forSession, "SUB", Right.SUBSCRIBE, topic, channel)) return;
    ClientInfo info = clientInfo();
    ConsumerSession.Params sessionParams = new ConsumerSession.Params(topic, channel, client.clientId(), remoteAddress,
        client.msgTimeout().toMillis(), true, params.maxRdyCount(), info);
    session = getContext().spawn(ConsumerSession.create(sessionParams, new Output(out, getContext().getSelf())), "session");
    getContext().watchWith(session, new SessionEnded());
    state = State.SUBSCRIBED;
  }

  private static String verb(NsqCommand cmd) {
    if (cmd instanceof NsqCommand.Line line) return line.verb();
    if (cmd instanceof NsqCommand.Fins) return "FIN";
    if (cmd instanceof NsqCommand.Auth) return "AUTH";
    if (cmd instanceof NsqCommand.Pub) return "PUB";
    if (cmd instanceof NsqCommand.Dpub) return "DPUB";
    return "MPUB";
  }

  // ---- AUTH: nsqd's flow, against the node's --auth-file or --auth-http-address ----------------

  private void auth(NsqCommand.Auth auth, List<Frames.ClientCommand> forSession) {
    if (identity != null) {
      fatal(forSession, "E_INVALID", "AUTH already set");
    } else if (params.authorizer().isEmpty()) {
      fatal(forSession, "E_AUTH_DISABLED", "AUTH disabled");
    } else {
      secret = auth.secret().utf8String();
      ask(false);
    }
  }

  private void ask(boolean refresh) {
    authorizing = true;
    Credentials credentials = new Credentials(secret, host(remoteAddress), tls, ServerTls.commonName(tlsSession));
    getContext().pipeToSelf(params.authorizer().get().identify(credentials),
        (found, failure) -> new Authorized(found == null ? Optional.empty() : found, failure, refresh));
  }

  private boolean identityExpired(NsqCommand next) {
    boolean checked = next instanceof NsqCommand.Pub || next instanceof NsqCommand.Dpub || next instanceof NsqCommand.Mpub
        || next instanceof NsqCommand.Line l && l.verb().equals("SUB");
    return checked && identity != null && identity.expired(System.currentTimeMillis());
  }

  /** As nsqd: an identity past its ttl is asked for again with the same secret. */
  private void refreshIdentity() {
    ask(true);
  }

  private Behavior<Event> onAuthorized(Authorized a) {
    authorizing = false;
    List<Frames.ClientCommand> none = new ArrayList<>();
    if (a.failure() != null || a.identity().isEmpty()) {
      // Never tell an untrusted client why (an auth server's errors stay in the log).
      if (a.failure() != null) getContext().getLog().warn("NSQ client {}: AUTH failed: {}", remoteAddress, rootMessage(a.failure()));
      fatal(none, "E_AUTH_FAILED", "AUTH failed");
    } else if (a.identity().get().grants().isEmpty()) {
      fatal(none, "E_UNAUTHORIZED", "AUTH no authorizations found");
    } else {
      identity = a.identity().get();
      if (producer != null) producer.authenticated(identity.name(), identity.url());
      if (!a.refresh()) {
        ObjectNode answer = JSON.createObjectNode();
        answer.put("identity", identity.name());
        answer.put("identity_url", identity.url());
        answer.put("permission_count", identity.grants().size());
        reply(NsqFrames.response(answer.toString()));
      }
    }
    return run();
  }

  /** nsqd's CheckAuth: with an authorizer, the command needs an identity with the right. */
  private boolean authorized(List<Frames.ClientCommand> forSession, String verb, Right right, String topic, String channel) {
    if (params.authorizer().isEmpty()) return true;
    if (identity == null) {
      fatal(forSession, "E_AUTH_FIRST", "AUTH required before " + verb);
      return false;
    }
    if (!identity.allows(right, topic, channel)) {
      fatal(forSession, "E_UNAUTHORIZED",
          "AUTH failed for " + verb + " on " + NsqDecoder.quoted(topic) + " " + NsqDecoder.quoted(channel));
      return false;
    }
    return true;
  }

  private void identify(NsqCommand.Identify identify, List<Frames.ClientCommand> forSession) {
    try {
      client = Identify.parse(identify.body(), client, params.offer());
    } catch (Identify.Refused e) {
      fatal(forSession, "E_BAD_BODY", e.getMessage());
      return;
    }
    startHeartbeats();
    if (producer != null) producer.identified(client.clientId(), clientInfo());
    reply(client.featureNegotiation() ? NsqFrames.response(Identify.answer(client, params.offer())) : NsqFrames.OK);
    if (client.upgradesToTls(params.offer())) {
      // As nsqd: the answer in clear, then the handshake, then OK through TLS.
      replies.peekLast().lastInClear = true;
      tls = true;
      queued.clear();
      reply(NsqFrames.OK);
    }
  }

  /** What /stats shows of this client, nsqd's fields. */
  private ClientInfo clientInfo() {
    return new ClientInfo(client.hostname(), client.userAgent(), "V2", tls, false, false, 0,
        tlsSession == null ? "" : goVersionName(tlsSession.getProtocol()), tlsSession == null ? "" : tlsSession.getCipherSuite());
  }

  /** Go's names, as nsqd reports them: "TLS1.3" for the JDK's "TLSv1.3". */
  private static String goVersionName(String protocol) {
    return protocol.replace("TLSv", "TLS");
  }

  private void publish(String verb, String failedCode, String topic, List<Published> messages) {
    Reply reply = new Reply();
    replies.add(reply);
    pendingPublishes++;
    CompletionStage<?> written = params.publisher().publish(topic, messages);
    getContext().pipeToSelf(written, (ok, failure) -> new Written(reply, failedCode, verb, topic, messages.size(), failure));
  }

  private Behavior<Event> onWritten(Written p) {
    pendingPublishes--;
    if (p.failure() == null) {
      p.reply().bytes = NsqFrames.OK;
      if (producer == null) {
        producer = params.producers().add(remoteAddress, connectedAt, client.clientId(), clientInfo());
        if (identity != null) producer.authenticated(identity.name(), identity.url());
      }
      producer.published(p.topic(), p.messages());
    } else {
      // As nsqd: a failed write is fatal for the connection. A write whose outcome is unknown (it
      // may be stored) has its own code: a retry may duplicate it.
      String code = p.failedCode();
      for (Throwable t = p.failure(); t != null; t = t.getCause() == t ? null : t.getCause()) {
        if (t instanceof herald.broker.Publisher.OutcomeUnknown) code = "E_PUB_UNKNOWN";
      }
      p.reply().bytes = NsqFrames.error(code, p.verb() + " failed " + rootMessage(p.failure()));
      p.reply().close = true;
      closing = true;
    }
    return run();
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }

  private void reply(ByteString bytes) {
    Reply r = new Reply();
    r.bytes = bytes;
    replies.add(r);
  }

  /** A fatal error: said after the answers before it, then the connection closes. */
  private void fatal(List<Frames.ClientCommand> forSession, String code, String description) {
    toSession(forSession);
    if (session != null) {
      session.tell(ConsumerSession.Barrier.INSTANCE);
      awaitingSession = true;
      timers.startSingleTimer(SessionAnswered.INSTANCE, SESSION_ANSWER_TIMEOUT);
    }
    getContext().getLog().debug("NSQ client {}: {} {}", remoteAddress, code, description);
    Reply r = new Reply();
    r.bytes = NsqFrames.error(code, description);
    r.close = true;
    replies.add(r);
    closing = true;
  }

  private void toSession(List<Frames.ClientCommand> commands) {
    if (commands.isEmpty() || session == null) return;
    session.tell(new ConsumerSession.Commands(List.copyOf(commands)));
    commands.clear();
  }

  private Behavior<Event> onSessionAnswered() {
    awaitingSession = false;
    timers.cancel(SessionAnswered.INSTANCE);
    flush();
    return ended ? close() : this;
  }

  /**
   * Sends the answers that are ready, in order; stops at the first still waiting for its write, and
   * at a fatal error while the session's answers are still to come.
   */
  private void flush() {
    while (!replies.isEmpty() && replies.peek().bytes != null && !(replies.peek().close && awaitingSession)) {
      Reply r = replies.poll();
      if (r.lastInClear) out.tell(StartTls.MARK);
      out.tell(r.bytes);
      if (r.close) {
        ended = true;
        replies.clear();
        return;
      }
    }
  }

  /**
   * Ends the connection: the last frames go out, then the socket closes. This actor stays until the
   * socket is closed: were it to stop now, the stream would cancel its reading side, which may
   * abort the connection before the last frame (a fatal error) is written.
   */
  private Behavior<Event> close() {
    params.producers().closed(producer);
    out.tell(END);
    // The channel takes back what the session held.
    if (session != null) getContext().stop(session);
    timers.cancelAll();
    timers.startSingleTimer(Closed.INSTANCE, CLOSE_TIMEOUT);
    return Behaviors.receive(Event.class)
        .onMessageEquals(ClientGone.INSTANCE, Behaviors::stopped)
        .onMessageEquals(Closed.INSTANCE, Behaviors::stopped)
        .onAnyMessage(ignored -> Behaviors.same())
        .build();
  }

  /** A subscriber's answers in nsqd's frames; deliveries are nsqd's message frames. */
  private record Output(ActorRef<ByteString> out, ActorRef<Event> connection) implements ConsumerOutput {
    @Override
    public void subscribed(String topic, String channel) {
      out.tell(NsqFrames.OK);
    }

    @Override
    public void answered() {
      connection.tell(SessionAnswered.INSTANCE);
    }

    @Override
    public void deliver(List<ConsumerProtocol.Delivery> messages) {
      out.tell(Frames.binaryFrames(messages));
    }

    @Override
    public void failed(String code, String message) {
      out.tell(NsqFrames.error(code, message));
    }

    @Override
    public void closeWait() {
      out.tell(NsqFrames.CLOSE_WAIT);
    }

    /** As nsqd: a deleted channel's clients are closed without an error frame (nsqjs would raise one). */
    @Override
    public void channelGone(String reason) {
      end();
    }


    @Override
    public void end() {
      out.tell(END);
    }
  }
}
