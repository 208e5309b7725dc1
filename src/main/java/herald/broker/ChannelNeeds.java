package herald.broker;

import java.util.HashMap;
import java.util.Map;

/**
 * How far back in its topic's journal each channel still reads: the lowest journal sequence number
 * it reported needing (ChannelAt), or, until it reports, its start. Trimming keeps everything from
 * the lowest of them.
 */
final class ChannelNeeds {
  private final Map<String, Long> reported = new HashMap<>();
  // Channels told to rewind that have not said they did: their position is at most this until they do.
  private final Map<String, Long> rewinding = new HashMap<>();

  /** The channel will never again read below {@code seqNr}; a report sent before a rewind was done cannot free what the rewind needs. */
  void reported(String channel, long seqNr) {
    reported.put(channel, Math.min(seqNr, rewinding.getOrDefault(channel, Long.MAX_VALUE)));
  }

  /** The channel is told to rewind to {@code seqNr}: from now on it needs the journal from there. */
  void rewinding(String channel, long seqNr) {
    reported.put(channel, seqNr);
    rewinding.put(channel, seqNr);
  }

  /** The channel rewound: its reports from now on are after the rewind. */
  void rewound(String channel) {
    rewinding.remove(channel);
  }

  void forget(String channel) {
    reported.remove(channel);
    rewinding.remove(channel);
  }

  void clear() {
    reported.clear();
    rewinding.clear();
  }

  /** The lowest of {@code low} and what each of {@code channels} needs (its start, until it reports). */
  long lowest(Map<String, Topic.Start> channels, long low) {
    for (var c : channels.entrySet()) low = Math.min(low, reported.getOrDefault(c.getKey(), c.getValue().seqNr()));
    return low;
  }
}
