package herald.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import herald.broker.BrokerEntity;
import herald.broker.DedupId;
import herald.broker.Names;
import herald.broker.NodeDisk;
import herald.broker.Published;
import herald.broker.ReplayFrom;
import herald.broker.Publisher;
import herald.broker.Topic;
import herald.broker.TopicRegistry;
import herald.cluster.Membership;
import herald.consumer.ConsumerSession;
import herald.consumer.SubParams;
import herald.consumer.WebSocketFlow;
import herald.settings.Settings;
import herald.settings.Version;
import herald.stats.StatsCollector;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.apache.pekko.http.javadsl.model.AttributeKeys;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.Query;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.model.ws.WebSocketUpgrade;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.MethodRejection;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.util.ByteString;

import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * nsqd's HTTP API and the WebSocket consumer endpoint. Routes hold no broker state: they check the
 * request, send a command, and turn the reply into a response.
 */
public final class HttpApi extends AllDirectives {
  private static final Duration ASK_TIMEOUT = Duration.ofSeconds(10);
  private static final long BODY_TIMEOUT_MS = 30_000;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final ActorSystem<?> system;
  private final Settings settings;
  private final Publisher publisher;
  private final herald.stats.NodeMetrics metrics;
  private final Supplier<String> health;
  private final herald.stats.TcpProducers producers;
  private final Materializer materializer;
  private final long startTime = System.currentTimeMillis() / 1000;

  /**
   * {@code health}: the node's health for /stats, "OK" or nsqd's "NOK - " and why; {@code producers}:
   * the node's NSQ TCP publishers, for /stats.
   */
  public HttpApi(ActorSystem<?> system, Settings settings, Publisher publisher, herald.stats.NodeMetrics metrics,
      Supplier<String> health, herald.stats.TcpProducers producers) {
    this.producers = producers;
    this.health = health;
    this.system = system;
    this.settings = settings;
    this.publisher = publisher;
    this.metrics = metrics;
    this.materializer = Materializer.matFromSystem(system);
  }

  /**
   * The API's routes; the node puts them behind a {@link Guard}. Built once: the Java DSL calls a
   * directive's inner supplier for every request it passes, so a tree built inside one would be
   * built again per request (all of it, under handleRejections); the publish routes, the hot ones,
   * are built whole here for the same reason.
   */
  private static final HttpHeader CONSOLE_CACHING = RawHeader.create("Cache-Control", "no-cache");

  public Route routes() {
    Route pub = post(() -> respond(this::pub));
    Route mpub = post(() -> respond(this::mpub));
    Route api = concat(
        path("ping", () -> get(() -> complete("OK"))),
        path("info", () -> get(() -> respond(this::info))),
        path("pub", () -> pub),
        path("mpub", () -> mpub),
        pathPrefix("topic", () -> path(PathMatchers.segment(), op -> post(() -> respond(r -> topicAdmin(op, r))))),
        pathPrefix("channel", () -> path(PathMatchers.segment(), op -> post(() -> respond(r -> channelAdmin(op, r))))),
        pathPrefix("config", () -> path(PathMatchers.segment(), opt -> concat(
            get(() -> respond(r -> config(opt, r))), put(() -> respond(r -> config(opt, r)))))),
        path("stats", () -> get(() -> respond(this::stats))),
        path("metrics", () -> get(() -> respond(this::metrics))),
        path("nodes", () -> get(() -> respond(this::nodes))),
        path(PathMatchers.segment("cluster").slash("nodes"), () -> get(() -> respond(this::clusterNodes))),
        path("lookup", () -> get(() -> respond(this::lookup))),
        path("topics", () -> get(() -> respond(this::topics))),
        path("channels", () -> get(() -> respond(this::channels))),
        path("sub", () -> get(this::sub)),
        // no-cache: the browser asks again each time (ETag, 304), so after an upgrade it never runs the
        // old console against the new node, as heuristic freshness from Last-Modified would let it.
        respondWithHeader(CONSOLE_CACHING, () -> concat(
            pathSingleSlash(() -> get(() -> getFromResource("console/index.html", ContentTypes.TEXT_HTML_UTF8))),
            pathPrefix("console", () -> get(() -> getFromResourceDirectory("console"))))));
    return handleRejections(rejections(), () -> api);
  }

  private RejectionHandler rejections() {
    return RejectionHandler.newBuilder()
        .handleAll(MethodRejection.class, r -> complete(nsqV1(ApiError.response(StatusCodes.METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"))))
        .handleNotFound(complete(nsqV1(ApiError.response(StatusCodes.NOT_FOUND, "NOT_FOUND"))))
        .build();
  }

  /** Runs a handler; whatever it throws or fails with becomes the matching error response. */
  private Route respond(Function<HttpRequest, CompletionStage<HttpResponse>> handler) {
    return extractRequest(request -> {
      CompletionStage<HttpResponse> response;
      try {
        response = handler.apply(request).handle((answer, failure) -> nsqV1(failure == null ? answer : ApiError.toResponse(failure)));
      } catch (ApiError e) {
        response = CompletableFuture.completedFuture(nsqV1(e.response()));
      }
      return completeWithFuture(response);
    });
  }

  private static final HttpHeader NSQ_V1 = RawHeader.create("X-NSQ-Content-Type", "nsq; version=1.0");
  // Answers are immutable: a publish's OK, with its mark, is made once.
  private static final HttpResponse OK = HttpResponse.create().withEntity(ContentTypes.TEXT_PLAIN_UTF8, "OK");
  private static final HttpResponse OK_V1 = OK.addHeader(NSQ_V1);

  /** nsqd's and nsqlookupd's mark on every API answer, which go-nsq's lookupd client asks for. */
  static HttpResponse nsqV1(HttpResponse response) {
    return response == OK ? OK_V1 : response.addHeader(NSQ_V1);
  }

  private static HttpResponse ok() {
    return OK;
  }

  /** nsqd answers its admin operations with 200 and nothing in the body. */
  private static HttpResponse empty() {
    return HttpResponse.create();
  }

  // ---- parameters -----------------------------------------------------------------------------
  // As nsqd: a parameter given empty ("topic=") is present, so it is invalid rather than missing.
  private static String name(Query q, String param, String missing, String invalid) {
    String value = q.get(param).orElseThrow(() -> ApiError.badRequest(missing));
    if (!Names.isValid(value)) throw ApiError.badRequest(invalid);
    return value;
  }

  private static String topic(Query q) {
    return name(q, "topic", "MISSING_ARG_TOPIC", "INVALID_TOPIC");
  }

  /** /channel/* name their errors as nsqd's GetTopicChannelArgs does. */
  private static String channelTopic(Query q) {
    return name(q, "topic", "MISSING_ARG_TOPIC", "INVALID_ARG_TOPIC");
  }

  private static String channel(Query q) {
    return name(q, "channel", "MISSING_ARG_CHANNEL", "INVALID_ARG_CHANNEL");
  }

  /** A topic that must already exist: no valid name means no such topic (nsqd's pause and delete). */
  private static String existingTopic(Query q) {
    String topic = q.get("topic").orElseThrow(() -> ApiError.badRequest("MISSING_ARG_TOPIC"));
    if (!Names.isValid(topic)) throw new ApiError(StatusCodes.NOT_FOUND, "TOPIC_NOT_FOUND");
    return topic;
  }

  private long defer(Query q) {
    Optional<String> value = q.get("defer");
    if (value.isEmpty()) return 0;
    try {
      long ms = Long.parseLong(value.get());
      if (ms < 0 || ms > settings.maxReqTimeout().toMillis()) throw ApiError.badRequest("INVALID_DEFER");
      return ms;
    } catch (NumberFormatException e) {
      throw ApiError.badRequest("INVALID_DEFER");
    }
  }

  /** The whole body, or 413 with {@code tooBig} once it passes {@code limit} bytes. */
  private CompletionStage<ByteString> body(HttpRequest request, long limit, String tooBig) {
    // Most bodies arrive whole: no stream, no future hop for them.
    if (request.entity() instanceof HttpEntity.Strict strict) {
      if (strict.getData().length() > limit) throw ApiError.tooLarge(tooBig);
      return CompletableFuture.completedFuture(strict.getData());
    }
    // A declared length over the limit is refused before a byte of the body is read.
    OptionalLong declared = request.entity().getContentLengthOption();
    if (declared.isPresent() && declared.getAsLong() > limit) throw ApiError.tooLarge(tooBig);
    return request.entity().withSizeLimit(limit).toStrict(BODY_TIMEOUT_MS, limit, materializer)
        .<ByteString>thenApply(HttpEntity.Strict::getData)
        .exceptionally(failure -> {
          Throwable t = unwrap(failure);
          if (t instanceof EntityStreamSizeException) throw ApiError.tooLarge(tooBig);
          throw new CompletionException(t);
        });
  }

  private static Throwable unwrap(Throwable failure) {
    return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
  }

  // ---- publish --------------------------------------------------------------------------------
  private CompletionStage<HttpResponse> pub(HttpRequest request) {
    Query q = request.getUri().query();
    // As nsqd: the body is checked before the parameters.
    return body(request, settings.maxMsgSize(), "MSG_TOO_BIG").thenCompose(body -> {
      if (body.isEmpty()) throw ApiError.badRequest("MSG_EMPTY");
      String topic = topic(q);
      long defer = defer(q);
      String dedupId = dedupId(request);
      long now = System.currentTimeMillis();
      return publisher.publish(topic, List.of(new Published(body, now, defer > 0 ? now + defer : 0, dedupId)));
    }).thenApply(appended -> ok());
  }

  private static final String DEDUP_HEADER = DedupId.HEADER.toLowerCase(java.util.Locale.ROOT);

  /** The publisher's id, checked; a request with two is refused, since which one was meant cannot be told. */
  private static String dedupId(HttpRequest request) {
    String id = null;
    for (HttpHeader h : request.getHeaders()) {
      if (!h.is(DEDUP_HEADER)) continue;
      if (id != null) throw ApiError.badRequest("INVALID_MSG_ID");
      id = h.value();
    }
    return id == null ? null : MessageBodies.checkedId(id);
  }

  private CompletionStage<HttpResponse> mpub(HttpRequest request) {
    Query q = request.getUri().query();
    // As nsqd: a declared length over the limit is refused first, then the topic is checked.
    CompletionStage<ByteString> whole = body(request, settings.maxBodySize(), "BODY_TOO_BIG");
    String topic = topic(q);
    // As nsqd: any value but false and 0 (true, 1 or an old-style one) means binary.
    boolean binary = q.get("binary").map(v -> !v.equals("false") && !v.equals("0")).orElse(false);
    // Herald's variant of the binary body with a dedup id before each message (docs/protocol.md).
    boolean withIds = q.get("msg_ids").map(v -> v.equals("true") || v.equals("1")).orElse(false);
    if (withIds && !binary) throw ApiError.badRequest("MSG_IDS_NEED_BINARY");
    return whole.thenCompose(body -> {
      List<MessageBodies.Body> bodies = binary
          ? MessageBodies.binary(body, settings.maxMsgSize(), settings.maxBodySize(), withIds)
          : MessageBodies.text(body, settings.maxMsgSize()).stream().map(b -> new MessageBodies.Body(null, b)).toList();
      // nsqd answers OK to a text body of empty lines: the topic exists, nothing is published.
      if (bodies.isEmpty()) return askTopic(topic, Topic.Create::new).thenApply(created -> ok());
      long now = System.currentTimeMillis();
      List<Published> messages = new ArrayList<>(bodies.size());
      for (MessageBodies.Body b : bodies) messages.add(new Published(b.bytes(), now, 0, b.dedupId()));
      return publisher.publish(topic, messages).thenApply(appended -> ok());
    });
  }

  // ---- admin ----------------------------------------------------------------------------------
  private CompletionStage<HttpResponse> topicAdmin(String op, HttpRequest request) {
    Query q = request.getUri().query();
    if (op.equals("config")) {
      String topic = topic(q);
      return unlessDiskLow(() -> body(request, 64 * 1024, "BODY_TOO_BIG").thenCompose(body ->
          askTopic(topic, r -> new Topic.Configure(TopicConfigBody.parse(body), r))).thenApply(done -> empty()));
    }
    if (op.equals("tombstone")) return tombstone(q);
    Function<ActorRef<StatusReply<Done>>, Topic.Command> command = switch (op) {
      case "create" -> Topic.Create::new;
      case "delete" -> Topic.Delete::new;
      case "empty" -> Topic.Empty::new;
      case "pause" -> r -> new Topic.SetPaused(true, r);
      case "unpause" -> r -> new Topic.SetPaused(false, r);
      default -> throw new ApiError(StatusCodes.NOT_FOUND, "NOT_FOUND");
    };
    // nsqd checks the name for create and empty; for the others a bad name is a topic not found.
    String topic = op.equals("create") || op.equals("empty") ? topic(q) : existingTopic(q);
    Supplier<CompletionStage<HttpResponse>> ask = () -> askTopic(topic, command).thenApply(done -> empty());
    return op.equals("pause") ? unlessDiskLow(ask) : ask.get();
  }

  /**
   * Settings, pause and rewind stay in the journal (about 200 bytes each, however often a client
   * sends them): below --min-free-space they are refused as publishes are (507 E_DISK_FULL), so
   * the reserve stays for FINs and progress. Unpause, delete and empty go on: they are how space
   * comes back (a paused backlog drains only once unpaused).
   */
  private CompletionStage<HttpResponse> unlessDiskLow(Supplier<CompletionStage<HttpResponse>> write) {
    String low = NodeDisk.get(system).problem();
    return low == null ? write.get() : CompletableFuture.failedFuture(new Publisher.Refused(low));
  }

  /**
   * nsqlookupd's /topic/tombstone hides one nsqd from a topic's /lookup while the topic is deleted
   * from it. Every Herald node serves every topic and a deletion is cluster-wide, so there is no
   * node to hide: the request is checked as nsqlookupd checks it and answered.
   */
  private static CompletionStage<HttpResponse> tombstone(Query q) {
    q.get("topic").orElseThrow(() -> ApiError.badRequest("MISSING_ARG_TOPIC"));
    q.get("node").orElseThrow(() -> ApiError.badRequest("MISSING_ARG_NODE"));
    return CompletableFuture.completedFuture(empty());
  }

  private CompletionStage<HttpResponse> channelAdmin(String op, HttpRequest request) {
    Query q = request.getUri().query();
    if (op.equals("rewind")) return rewind(q);
    if (op.equals("config")) {
      String topic = channelTopic(q);
      String channel = channel(q);
      return unlessDiskLow(() -> body(request, 64 * 1024, "BODY_TOO_BIG").thenCompose(body -> askTopic(topic, r -> new Topic.ChannelAdmin(
          channel, Topic.ChannelOp.CONFIGURE, ChannelConfigBody.parse(body, topic, channel), r))).thenApply(done -> empty()));
    }
    Optional<Topic.ChannelOp> channelOp = switch (op) {
      case "create" -> Optional.empty();
      case "delete" -> Optional.of(Topic.ChannelOp.DELETE);
      case "empty" -> Optional.of(Topic.ChannelOp.EMPTY);
      case "pause" -> Optional.of(Topic.ChannelOp.PAUSE);
      case "unpause" -> Optional.of(Topic.ChannelOp.UNPAUSE);
      default -> throw new ApiError(StatusCodes.NOT_FOUND, "NOT_FOUND");
    };
    String topic = channelTopic(q);
    String channel = channel(q);
    ReplayFrom from = replayFrom(q, "from", false);
    Supplier<CompletionStage<HttpResponse>> ask = () -> askTopic(topic, r -> channelOp
        .<Topic.Command>map(o -> new Topic.ChannelAdmin(channel, o, r))
        .orElseGet(() -> new Topic.CreateChannel(channel, false, from, r))).thenApply(done -> empty());
    return op.equals("pause") ? unlessDiskLow(ask) : ask.get();
  }

  /** Replay: the channel's cursor goes to {@code to=}; what the topic kept from there is delivered again. */
  private CompletionStage<HttpResponse> rewind(Query q) {
    String topic = channelTopic(q);
    String channel = channel(q);
    ReplayFrom to = replayFrom(q, "to", true);
    if (to == null) throw ApiError.badRequest("MISSING_ARG_TO");
    // An ephemeral topic keeps nothing in a journal: there is nothing to deliver again.
    if (Names.isEphemeral(topic)) throw ApiError.badRequest("EPHEMERAL_TOPIC");
    return unlessDiskLow(() -> askTopic(topic, r -> new Topic.RewindChannel(channel, to, r)).thenApply(done -> empty()));
  }

  /** {@code from=} or {@code to=}: earliest, latest, unix ms, or (where allowed) a message id; null when absent. */
  static ReplayFrom replayFrom(Query q, String parameter, boolean positions) {
    Optional<String> text = q.get(parameter);
    if (text.isEmpty()) return null;
    ReplayFrom from = ReplayFrom.parse(text.get(), positions);
    if (from == null) throw ApiError.badRequest("INVALID_" + parameter.toUpperCase(java.util.Locale.ROOT));
    return from;
  }

  private CompletionStage<Done> askTopic(String topic, Function<ActorRef<StatusReply<Done>>, Topic.Command> command) {
    EntityRef<BrokerEntity.Command> ref = BrokerEntity.topic(system, topic);
    return ref.askWithStatus(command::apply, ASK_TIMEOUT);
  }

  // ---- reading --------------------------------------------------------------------------------
  private CompletionStage<HttpResponse> stats(HttpRequest request) {
    Query q = request.getUri().query();
    // As nsqd: json when asked for, text otherwise; clients and memory unless turned off.
    boolean json = q.get("format").orElse("").equals("json");
    boolean clients = !q.get("include_clients").orElse("").matches("false|0");
    boolean memory = !q.get("include_mem").orElse("").matches("false|0");
    Optional<String> topic = q.get("topic").filter(s -> !s.isEmpty());
    Optional<String> channel = q.get("channel").filter(s -> !s.isEmpty());
    return StatsCollector.collect(system, topic, channel)
        .thenApply(reports -> json
            ? HttpResponse.create().withEntity(ContentTypes.APPLICATION_JSON, StatsFormat.json(Version.VERSION, health.get(), startTime,
                new StatsFormat.Options(topic.isPresent(), channel.isPresent(), clients, memory), reports, producers.snapshot(), topic))
            : HttpResponse.create().withEntity(ContentTypes.TEXT_PLAIN_UTF8, StatsFormat.text(Version.VERSION, health.get(), reports)));
  }

  /** Prometheus text format; see NodeMetrics. */
  private CompletionStage<HttpResponse> metrics(HttpRequest request) {
    return metrics.scrape(system).thenApply(text ->
        HttpResponse.create().withEntity(ContentTypes.parse(herald.stats.NodeMetrics.CONTENT_TYPE), ByteString.fromString(text)));
  }

  private static HttpResponse json(ObjectNode body) {
    return HttpResponse.create().withEntity(ContentTypes.APPLICATION_JSON, body.toString());
  }

  /** Herald's own view of the cluster: members, their state, what each hosts. */
  private CompletionStage<HttpResponse> clusterNodes(HttpRequest request) {
    return Membership.nodes(system).thenApply(nodes -> {
      ObjectNode root = JSON.createObjectNode();
      var array = root.putArray("nodes");
      for (Membership.NodeInfo n : nodes) {
        ObjectNode o = array.addObject();
        o.put("address", n.address());
        o.put("status", n.status());
        o.put("reachable", n.reachable());
        o.put("http_address", n.httpAddress());
        o.put("shards", n.shards());
        o.put("journal_unfit", n.journalUnfit());
        o.put("entities", n.entities());
      }
      return json(root);
    });
  }

  // ---- nsqlookupd ----------------------------------------------------------------------------
  // Every node answers as nsqlookupd: every member that is up serves every topic, so each is a
  // producer of each topic. Topics and channels come from the registry, which starts no entity.

  /** nsqlookupd's /nodes: the members that are up, each with every topic (none tombstoned). */
  private CompletionStage<HttpResponse> nodes(HttpRequest request) {
    return registry().thenApply(topics -> {
      ObjectNode root = JSON.createObjectNode();
      var producers = root.putArray("producers");
      for (Membership.Producer member : Membership.producers(system)) {
        ObjectNode p = producer(producers.addObject(), member);
        var tombstones = p.putArray("tombstones");
        var names = p.putArray("topics");
        for (String topic : topics.names()) {
          tombstones.add(false);
          names.add(topic);
        }
      }
      return json(root);
    });
  }

  private CompletionStage<HttpResponse> lookup(HttpRequest request) {
    String topic = request.getUri().query().get("topic").orElseThrow(() -> ApiError.badRequest("MISSING_ARG_TOPIC"));
    return knownChannels(topic).thenApply(known -> {
      if (known == null) throw new ApiError(StatusCodes.NOT_FOUND, "TOPIC_NOT_FOUND");
      ObjectNode root = JSON.createObjectNode();
      var channels = root.putArray("channels");
      known.forEach(channels::add);
      var producers = root.putArray("producers");
      for (Membership.Producer member : Membership.producers(system)) producer(producers.addObject(), member);
      return json(root);
    });
  }

  private static ObjectNode producer(ObjectNode p, Membership.Producer member) {
    p.put("remote_address", member.remoteAddress());
    p.put("hostname", member.hostname());
    p.put("broadcast_address", member.broadcastAddress());
    p.put("tcp_port", member.tcpPort());
    p.put("http_port", member.httpPort());
    p.put("version", Version.VERSION);
    return p;
  }

  private CompletionStage<HttpResponse> topics(HttpRequest request) {
    return registry().thenApply(topics -> {
      ObjectNode root = JSON.createObjectNode();
      var array = root.putArray("topics");
      topics.names().forEach(array::add);
      return json(root);
    });
  }

  /** As nsqlookupd: an unknown topic has no channels. */
  private CompletionStage<HttpResponse> channels(HttpRequest request) {
    String topic = request.getUri().query().get("topic").orElseThrow(() -> ApiError.badRequest("MISSING_ARG_TOPIC"));
    return knownChannels(topic).thenApply(known -> {
      ObjectNode root = JSON.createObjectNode();
      var array = root.putArray("channels");
      (known == null ? List.<String>of() : known).forEach(array::add);
      return json(root);
    });
  }

  /** A topic's channels as the registry knows them, null for a topic it does not know: reading never starts an entity. */
  private CompletionStage<List<String>> knownChannels(String topic) {
    return TopicRegistry.ref(system).<TopicRegistry.TopicChannels>ask(r -> new TopicRegistry.GetTopic(topic, r), ASK_TIMEOUT)
        .thenApply(TopicRegistry.TopicChannels::channels);
  }

  private CompletionStage<TopicRegistry.Topics> registry() {
    return TopicRegistry.ref(system).ask(TopicRegistry.GetTopics::new, ASK_TIMEOUT);
  }

  private CompletionStage<HttpResponse> info(HttpRequest request) {
    // nsqd's fields first (nsqadmin reads broadcast_address and the ports), then Herald's own.
    ObjectNode n = JSON.createObjectNode();
    n.put("version", Version.VERSION);
    n.put("broadcast_address", settings.broadcastAddress());
    n.put("hostname", Settings.hostname());
    n.put("http_port", settings.httpPort());
    n.put("tcp_port", settings.tcpPort());
    n.put("start_time", startTime);
    n.put("node", system.address().toString());
    n.put("http_address", settings.advertisedHttp());
    n.put("journal", settings.journal());
    ObjectNode limits = n.putObject("limits");
    limits.put("msg_timeout_ms", settings.msgTimeout().toMillis());
    limits.put("max_msg_timeout_ms", settings.maxMsgTimeout().toMillis());
    limits.put("max_req_timeout_ms", settings.maxReqTimeout().toMillis());
    limits.put("max_msg_size", settings.maxMsgSize());
    limits.put("max_body_size", settings.maxBodySize());
    limits.put("max_rdy_count", settings.maxRdyCount());
    limits.put("mem_queue_size", settings.memQueueSize());
    return CompletableFuture.completedFuture(json(n));
  }

  /**
   * nsqd's /config/OPT: log_level read (nsqd's number, 1 debug to 5 fatal) and set (PUT with the
   * level's name) on the node's root logger. Herald has no other runtime option to show or change.
   */
  private CompletionStage<HttpResponse> config(String opt, HttpRequest request) {
    if (!opt.equals("log_level")) throw ApiError.badRequest("INVALID_OPTION");
    if (request.method().name().equals("PUT")) {
      return body(request, settings.maxMsgSize(), "INVALID_VALUE").thenApply(body -> {
        if (body.isEmpty()) throw ApiError.tooLarge("INVALID_VALUE");
        LogLevel.set(LogLevel.parse(body.utf8String()));
        return json(LogLevel.current());
      });
    }
    return CompletableFuture.completedFuture(json(LogLevel.current()));
  }

  private static HttpResponse json(int value) {
    return HttpResponse.create().withEntity(ContentTypes.APPLICATION_JSON, Integer.toString(value));
  }

  // ---- consume --------------------------------------------------------------------------------
  private Route sub() {
    return extractRequest(request -> extractClientIP(ip -> {
      ConsumerSession.Params params;
      try {
        String remote = ip.getAddress().map(InetAddress::getHostAddress).orElse("unknown") + ":" + ip.getPort();
        params = SubParams.parse(request.getUri().query()::get, remote, new SubParams.Limits(
            settings.msgTimeout().toMillis(), settings.maxMsgTimeout().toMillis(), settings.maxRdyCount()));
      } catch (SubParams.Refused e) {
        return complete(ApiError.response(StatusCodes.BAD_REQUEST, e.code()));
      }
      Optional<WebSocketUpgrade> upgrade = request.getAttribute(AttributeKeys.webSocketUpgrade);
      if (upgrade.isEmpty()) return complete(ApiError.response(StatusCodes.BAD_REQUEST, "EXPECTED_WEBSOCKET"));
      return complete(Guard.accept(upgrade.get(),
          WebSocketFlow.of(system, params, settings.maxMsgSize(), Duration.ofMillis(BODY_TIMEOUT_MS))));
    }));
  }
}
