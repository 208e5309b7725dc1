package herald.broker;

import org.apache.pekko.actor.typed.ActorRef;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The consumers of one channel, their RDY credit and counters, and the round robin over them. */
final class ChannelConsumers {

  static final class Consumer {
    final ActorRef<ConsumerProtocol> ref;
    final String clientId;
    final String remoteAddress;
    final ClientInfo client;
    final long msgTimeoutMs;
    final long connectTs = System.currentTimeMillis();
    long ready;
    long inFlight;
    long messageCount;
    long finishCount;
    long requeueCount;
    long timeoutCount;

    Consumer(ActorRef<ConsumerProtocol> ref, String clientId, String remoteAddress, ClientInfo client, long msgTimeoutMs) {
      this.ref = ref;
      this.clientId = clientId;
      this.remoteAddress = remoteAddress;
      this.client = client;
      this.msgTimeoutMs = msgTimeoutMs;
    }

    boolean hasCredit() {
      return inFlight < ready;
    }

    /** How many more messages it may hold now. */
    long credit() {
      return Math.max(0, ready - inFlight);
    }

    Channel.ClientStats stats() {
      return new Channel.ClientStats(clientId, remoteAddress, ready, inFlight, messageCount,
          finishCount, requeueCount, timeoutCount, connectTs, client);
    }
  }

  private final Map<ActorRef<ConsumerProtocol>, Consumer> consumers = new LinkedHashMap<>();
  // The round robin: the consumers in order (made again when they change), and whose turn it is.
  private Consumer[] turns = new Consumer[0];
  private int turn;

  private void changed() {
    turns = consumers.values().toArray(new Consumer[0]);
    turn = 0;
  }

  /** False when it was there already. */
  boolean add(Consumer c) {
    if (consumers.containsKey(c.ref)) return false;
    consumers.put(c.ref, c);
    changed();
    return true;
  }

  Consumer get(ActorRef<ConsumerProtocol> ref) {
    return consumers.get(ref);
  }

  /** The removed consumer, or null when it was not there. */
  Consumer remove(ActorRef<ConsumerProtocol> ref) {
    Consumer c = consumers.remove(ref);
    if (c != null) changed();
    return c;
  }

  boolean isEmpty() {
    return consumers.isEmpty();
  }

  int size() {
    return consumers.size();
  }

  Collection<Consumer> all() {
    return consumers.values();
  }

  /** Round robin over the consumers that have RDY credit left; null when none has. */
  Consumer nextWithCredit() {
    for (int i = 0; i < turns.length; i++) {
      Consumer c = turns[turn];
      turn = (turn + 1) % turns.length;
      if (c.hasCredit()) return c;
    }
    return null;
  }

  /** How many consumers have RDY credit left. */
  int withCredit() {
    int n = 0;
    for (Consumer c : turns) if (c.hasCredit()) n++;
    return n;
  }

  /** Tells every consumer to close and forgets them all. */
  void closeAll(String reason) {
    consumers.keySet().forEach(ref -> ref.tell(new ConsumerProtocol.Close(reason)));
    consumers.clear();
    changed();
  }

  List<Channel.ClientStats> stats() {
    List<Channel.ClientStats> out = new ArrayList<>();
    for (Consumer c : consumers.values()) out.add(c.stats());
    return out;
  }
}
