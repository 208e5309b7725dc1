package herald.broker;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The cluster's topics and their channels, and which topics run right now. /stats, /topics and
 * /lookup read it, so a topic that is not running is listed without being started. Topics register
 * themselves (and their channels) on every change and every start, so a lost registration heals
 * itself. Ephemeral names are kept in memory only.
 */
public final class TopicRegistry
    extends EventSourcedBehavior<TopicRegistry.Command, TopicRegistry.Event, TopicRegistry.State> {

  public interface Command extends CborSerializable {}

  public record Register(String topic) implements Command {}

  public record Unregister(String topic) implements Command {}

  /** The topic's channels now (durable and ephemeral). */
  public record SetChannels(String topic, List<String> channels) implements Command {}

  /** A topic entity started ({@code running}) or stopped; the ref tells incarnations apart. */
  public record TopicRunning(String topic, ActorRef<BrokerEntity.Command> ref, boolean running) implements Command {}

  public record GetTopics(ActorRef<Topics> replyTo) implements Command {}

  /** One topic's channels, for /lookup and /channels. */
  public record GetTopic(String topic, ActorRef<TopicChannels> replyTo) implements Command {}

  /** {@code channels} is null for a topic the registry does not know. */
  public record TopicChannels(List<String> channels) implements CborSerializable {}

  /** Topic names, sorted; each with its channels; and the topics whose entity runs. */
  public record Topics(List<String> names, Map<String, List<String>> channels, Set<String> running)
      implements CborSerializable {}

  public interface Event extends CborSerializable {}

  public record Registered(String topic) implements Event {}

  public record Unregistered(String topic) implements Event {}

  public record ChannelsChanged(String topic, List<String> channels) implements Event {}

  public record State(Map<String, List<String>> topics) implements CborSerializable {}

  public static final EntityTypeKey<Command> KEY = EntityTypeKey.create(Command.class, "topic-registry");
  private static final String ID = "topics";

  public static void init(ActorSystem<?> system) {
    ClusterSharding.get(system).init(Entity.of(KEY, ctx -> create()));
  }

  public static void register(ActorSystem<?> system, String topic) {
    ref(system).tell(new Register(topic));
  }

  public static void unregister(ActorSystem<?> system, String topic) {
    ref(system).tell(new Unregister(topic));
  }

  public static EntityRef<Command> ref(ActorSystem<?> system) {
    return ClusterSharding.get(system).entityRefFor(KEY, ID);
  }

  static Behavior<Command> create() {
    return new TopicRegistry();
  }

  private final Map<String, List<String>> ephemeral = new TreeMap<>();
  private final Map<String, ActorRef<BrokerEntity.Command>> running = new HashMap<>();

  private TopicRegistry() {
    super(PersistenceId.ofUniqueId("registry|" + ID),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(5), 0.2));
  }

  @Override
  public State emptyState() {
    return new State(Map.of());
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(500, 2).withDeleteEventsOnSnapshot();
  }

  @Override
  public CommandHandler<Command, Event, State> commandHandler() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(Register.class, (s, c) -> {
          if (Names.isEphemeral(c.topic())) {
            ephemeral.putIfAbsent(c.topic(), List.of());
            return Effect().none();
          }
          return s.topics().containsKey(c.topic()) ? Effect().none() : Effect().persist(new Registered(c.topic()));
        })
        .onCommand(Unregister.class, (s, c) -> {
          ephemeral.remove(c.topic());
          return s.topics().containsKey(c.topic()) ? Effect().persist(new Unregistered(c.topic())) : Effect().none();
        })
        .onCommand(SetChannels.class, (s, c) -> {
          List<String> channels = List.copyOf(new TreeSet<>(c.channels()));
          if (ephemeral.containsKey(c.topic())) {
            ephemeral.put(c.topic(), channels);
            return Effect().none();
          }
          boolean same = channels.equals(s.topics().get(c.topic()));
          return !s.topics().containsKey(c.topic()) || same ? Effect().none()
              : Effect().persist(new ChannelsChanged(c.topic(), channels));
        })
        .onCommand(TopicRunning.class, (s, c) -> {
          if (c.running()) running.put(c.topic(), c.ref());
          else running.remove(c.topic(), c.ref());
          return Effect().none();
        })
        .onCommand(GetTopic.class, (s, c) -> {
          List<String> channels = s.topics().get(c.topic());
          c.replyTo().tell(new TopicChannels(channels != null ? channels : ephemeral.get(c.topic())));
          return Effect().none();
        })
        .onCommand(GetTopics.class, (s, c) -> {
          TreeMap<String, List<String>> all = new TreeMap<>(s.topics());
          all.putAll(ephemeral);
          c.replyTo().tell(new Topics(List.copyOf(all.keySet()), all, Set.copyOf(running.keySet())));
          return Effect().none();
        })
        .build();
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(Registered.class, (s, e) -> {
          TreeMap<String, List<String>> next = new TreeMap<>(s.topics());
          next.put(e.topic(), List.of());
          return new State(next);
        })
        .onEvent(Unregistered.class, (s, e) -> {
          TreeMap<String, List<String>> next = new TreeMap<>(s.topics());
          next.remove(e.topic());
          return new State(next);
        })
        .onEvent(ChannelsChanged.class, (s, e) -> {
          TreeMap<String, List<String>> next = new TreeMap<>(s.topics());
          next.put(e.topic(), e.channels());
          return new State(next);
        })
        .build();
  }
}
