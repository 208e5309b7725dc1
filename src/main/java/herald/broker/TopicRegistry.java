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
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The names of all topics, so /stats can find topics that are not running after a restart. Topics
 * register themselves on creation and on every start, so a lost registration heals itself.
 * Ephemeral topics are kept in memory only.
 */
public final class TopicRegistry
    extends EventSourcedBehavior<TopicRegistry.Command, TopicRegistry.Event, TopicRegistry.State> {

  public interface Command extends CborSerializable {}

  public record Register(String topic) implements Command {}

  public record Unregister(String topic) implements Command {}

  public record GetTopics(ActorRef<Topics> replyTo) implements Command {}

  public record Topics(List<String> names) implements CborSerializable {}

  public interface Event extends CborSerializable {}

  public record Registered(String topic) implements Event {}

  public record Unregistered(String topic) implements Event {}

  public record State(Set<String> topics) implements CborSerializable {}

  public static final EntityTypeKey<Command> KEY = EntityTypeKey.create(Command.class, "topic-registry");
  private static final String ID = "topics";

  public static void init(ActorSystem<?> system) {
    ClusterSharding.get(system).init(Entity.of(KEY, ctx -> create()));
  }

  public static void register(ActorSystem<?> system, String topic) {
    ClusterSharding.get(system).entityRefFor(KEY, ID).tell(new Register(topic));
  }

  public static void unregister(ActorSystem<?> system, String topic) {
    ClusterSharding.get(system).entityRefFor(KEY, ID).tell(new Unregister(topic));
  }

  public static EntityRef<Command> ref(ActorSystem<?> system) {
    return ClusterSharding.get(system).entityRefFor(KEY, ID);
  }

  static Behavior<Command> create() {
    return new TopicRegistry();
  }

  private final Set<String> ephemeral = new TreeSet<>();

  private TopicRegistry() {
    super(PersistenceId.ofUniqueId("registry|" + ID),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(5), 0.2));
  }

  @Override
  public State emptyState() {
    return new State(Set.of());
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
            ephemeral.add(c.topic());
            return Effect().none();
          }
          return s.topics().contains(c.topic()) ? Effect().none() : Effect().persist(new Registered(c.topic()));
        })
        .onCommand(Unregister.class, (s, c) -> {
          ephemeral.remove(c.topic());
          return s.topics().contains(c.topic()) ? Effect().persist(new Unregistered(c.topic())) : Effect().none();
        })
        .onCommand(GetTopics.class, (s, c) -> {
          TreeSet<String> all = new TreeSet<>(s.topics());
          all.addAll(ephemeral);
          c.replyTo().tell(new Topics(List.copyOf(all)));
          return Effect().none();
        })
        .build();
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(Registered.class, (s, e) -> {
          TreeSet<String> next = new TreeSet<>(s.topics());
          next.add(e.topic());
          return new State(next);
        })
        .onEvent(Unregistered.class, (s, e) -> {
          TreeSet<String> next = new TreeSet<>(s.topics());
          next.remove(e.topic());
          return new State(next);
        })
        .build();
  }
}
