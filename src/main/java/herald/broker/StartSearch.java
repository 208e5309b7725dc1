package herald.broker;

import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.stream.javadsl.Sink;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Where a channel starts ({@code from=}) or rewinds to ({@code to=}), found by reading its topic's
 * journal from the journal mark before it: one stretch of the journal at most, or the first
 * messages still kept for {@code earliest}.
 */
final class StartSearch {
  private StartSearch() {}

  /**
   * The journal write to read from for {@code from} (not LATEST: that is the topic's end): the mark
   * before it, not below the first write the marks know nor below {@code firstKept} (what is deleted
   * or being deleted).
   */
  static long readFrom(JournalMarks marks, ReplayFrom from, long firstKept) {
    long mark = switch (from.where()) {
      case TIME -> marks.seqNrBeforeTime(from.value());
      case POSITION -> marks.seqNrBeforeOffset(from.value());
      default -> 0;
    };
    return Math.max(Math.max(mark, marks.firstSeqNr()), firstKept);
  }

  /**
   * The first message from journal write {@code fromSeqNr} on where {@code from} starts, as a channel
   * start; empty when none is there yet (the end). Offsets below {@code baseOffset} are a deleted
   * topic's, under the same name.
   */
  static CompletionStage<Optional<Topic.Start>> find(
      ActorSystem<?> system, String persistenceId, long fromSeqNr, ReplayFrom from, long baseOffset) {
    return Journals.reader(system)
        .currentEventsByPersistenceId(persistenceId, fromSeqNr, Long.MAX_VALUE)
        .mapConcat(env -> {
          Topic.Start start = firstReached(env, from, baseOffset);
          return start == null ? List.<Topic.Start>of() : List.of(start);
        })
        .runWith(Sink.headOption(), system);
  }

  /** The first message of this journal event where {@code from} starts, as a channel start; null for none. */
  static Topic.Start firstReached(EventEnvelope env, ReplayFrom from, long baseOffset) {
    if (!(env.event() instanceof Topic.MessagesAppended batch)) return null;
    long offset = batch.firstOffset();
    for (Published p : batch.messages()) {
      if (offset >= baseOffset && from.reached(offset, p.timestamp())) return new Topic.Start(offset, env.sequenceNr());
      offset++;
    }
    return null;
  }
}
