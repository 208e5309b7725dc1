package herald.broker;

import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

import java.util.List;

/**
 * The node's free-space guard for what the node writes on its own behalf (dead letters), for new
 * topics and channels, and for the admin writes that stay (settings, pause, rewind), so that the
 * reserve below --min-free-space holds for those writes as it does for clients' publishes.
 * Set by the node's {@link Publisher}; none (everything admitted) until then, as in tests that run
 * without one.
 */
public final class NodeDisk implements Extension {
  private static final ExtensionId<NodeDisk> ID = new ExtensionId<>() {
    @Override
    public NodeDisk createExtension(ActorSystem<?> system) {
      return new NodeDisk();
    }
  };

  public static NodeDisk get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  private volatile DiskSpace disk;

  private NodeDisk() {}

  void use(DiskSpace disk) {
    this.disk = disk;
  }

  /** Null when these may be written now, else why not. */
  String refusal(List<Published> messages) {
    DiskSpace d = disk;
    return d == null ? null : d.refusal(messages);
  }

  /**
   * Null while writes that stay may be made (new topics and channels, settings, pause, rewind),
   * else why not: the disk is below --min-free-space.
   */
  public String problem() {
    DiskSpace d = disk;
    return d == null ? null : d.problem();
  }
}
