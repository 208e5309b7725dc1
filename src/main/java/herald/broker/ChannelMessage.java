package herald.broker;

import org.apache.pekko.util.ByteString;

/** One message of a channel while it is in memory: ready, deferred or in flight. */
final class ChannelMessage {
  final long offset;
  /** The topic journal write that holds it. */
  final long seqNr;
  final long timestamp;
  /** The publisher's own id (X-Herald-Msg-Id), or a dead letter's origin; usually null. */
  final String msgId;
  /** Null while deferred: read back from the topic's journal when due. */
  ByteString body;
  int attempts;
  long deliverAt;
  /** Deferred by a REQ with a delay (persisted), rather than by a deferred publish (in the topic). */
  boolean requeueDeferred;
  /** In the ready buffer out of topic-write order or with attempts (see ReadyQueue). */
  boolean irregular;

  ChannelMessage(long offset, long seqNr, long timestamp, ByteString body, long deliverAt) {
    this(offset, seqNr, timestamp, body, deliverAt, null);
  }

  ChannelMessage(long offset, long seqNr, long timestamp, ByteString body, long deliverAt, String msgId) {
    this.msgId = msgId;
    this.offset = offset;
    this.seqNr = seqNr;
    this.timestamp = timestamp;
    this.body = body;
    this.deliverAt = deliverAt;
  }
}
