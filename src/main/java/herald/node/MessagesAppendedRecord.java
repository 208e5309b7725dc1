package herald.node;

import herald.broker.MessagesAppendedSerializer;
import herald.broker.Topic;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.protobufv3.internal.CodedOutputStream;
import org.apache.pekko.protobufv3.internal.WireFormat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

import static org.apache.pekko.protobufv3.internal.CodedOutputStream.computeInt32Size;
import static org.apache.pekko.protobufv3.internal.CodedOutputStream.computeInt64Size;
import static org.apache.pekko.protobufv3.internal.CodedOutputStream.computeSInt64Size;
import static org.apache.pekko.protobufv3.internal.CodedOutputStream.computeStringSize;
import static org.apache.pekko.protobufv3.internal.CodedOutputStream.computeTagSize;
import static org.apache.pekko.protobufv3.internal.CodedOutputStream.computeUInt32SizeNoTag;

/**
 * A topic's MessagesAppended as the LevelDB journal stores it — Pekko's {@code PersistentMessage}
 * protobuf record (its MessageFormats.proto) around the event's own bytes — put down in one array.
 *
 * <p>Pekko builds that record by serializing the event into an array and then copying it, inside
 * the protobuf message, into a second one: every published body is copied twice on the heap per
 * write, and a write of 32 /mpub requests (over 512 KB) is a humongous object to G1 with a 1 GB
 * heap, twice. This writes the same bytes, byte for byte (MessagesAppendedRecordTest compares them
 * with Pekko's), with one copy; reading stays Pekko's own.
 */
final class MessagesAppendedRecord {
  // Field numbers of PersistentMessage and PersistentPayload in Pekko's MessageFormats.proto.
  private static final int PAYLOAD = 1;
  private static final int SEQUENCE_NR = 2;
  private static final int PERSISTENCE_ID = 3;
  private static final int MANIFEST = 12;
  private static final int WRITER_UUID = 13;
  private static final int TIMESTAMP = 14;
  private static final int SERIALIZER_ID = 1;
  private static final int PAYLOAD_BYTES = 2;
  private static final int PAYLOAD_MANIFEST = 3;

  private MessagesAppendedRecord() {}

  /**
   * The record of {@code p}, whose payload is {@code e}, as Pekko's MessageSerializer writes it for a
   * message with no sender and no metadata (the caller checks): fields in number order, the optional
   * ones only when Pekko sets them.
   */
  static byte[] toBytes(PersistentRepr p, Topic.MessagesAppended e, int serializerId, String eventManifest) {
    int eventSize = MessagesAppendedSerializer.size(e);
    int payloadSize = computeInt32Size(SERIALIZER_ID, serializerId)
        + computeTagSize(PAYLOAD_BYTES) + computeUInt32SizeNoTag(eventSize) + eventSize
        + (eventManifest.isEmpty() ? 0 : computeStringSize(PAYLOAD_MANIFEST, eventManifest));
    String undefined = PersistentRepr.Undefined();
    boolean hasId = !p.persistenceId().equals(undefined);
    boolean hasManifest = !p.manifest().equals(undefined);
    boolean hasWriter = !p.writerUuid().equals(undefined);
    boolean hasTimestamp = p.timestamp() > 0;
    int size = computeTagSize(PAYLOAD) + computeUInt32SizeNoTag(payloadSize) + payloadSize
        + computeInt64Size(SEQUENCE_NR, p.sequenceNr())
        + (hasId ? computeStringSize(PERSISTENCE_ID, p.persistenceId()) : 0)
        + (hasManifest ? computeStringSize(MANIFEST, p.manifest()) : 0)
        + (hasWriter ? computeStringSize(WRITER_UUID, p.writerUuid()) : 0)
        + (hasTimestamp ? computeSInt64Size(TIMESTAMP, p.timestamp()) : 0);
    byte[] out = new byte[size];
    try {
      CodedOutputStream head = CodedOutputStream.newInstance(out);
      head.writeTag(PAYLOAD, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      head.writeUInt32NoTag(payloadSize);
      head.writeInt32(SERIALIZER_ID, serializerId);
      head.writeTag(PAYLOAD_BYTES, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      head.writeUInt32NoTag(eventSize);
      int at = head.getTotalBytesWritten();
      // The one copy of the bodies: straight into the record.
      MessagesAppendedSerializer.write(e, ByteBuffer.wrap(out, at, eventSize));
      CodedOutputStream tail = CodedOutputStream.newInstance(out, at + eventSize, size - at - eventSize);
      if (!eventManifest.isEmpty()) tail.writeString(PAYLOAD_MANIFEST, eventManifest);
      tail.writeInt64(SEQUENCE_NR, p.sequenceNr());
      if (hasId) tail.writeString(PERSISTENCE_ID, p.persistenceId());
      if (hasManifest) tail.writeString(MANIFEST, p.manifest());
      if (hasWriter) tail.writeString(WRITER_UUID, p.writerUuid());
      if (hasTimestamp) tail.writeSInt64(TIMESTAMP, p.timestamp());
      tail.checkNoSpaceLeft();
    } catch (IOException ex) {
      throw new UncheckedIOException(ex); // only if the sizes above were wrong: a bug, not a state
    }
    return out;
  }
}
