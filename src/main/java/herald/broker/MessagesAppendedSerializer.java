package herald.broker;

import org.apache.pekko.serialization.SerializerWithStringManifest;
import org.apache.pekko.util.ByteString;

import java.io.NotSerializableException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The compact binary form of the hot event: every published body passes through here once on its
 * way to the journal. Layout, big-endian: firstOffset:8 count:4 then per message
 * timestamp:8 deliverAt:8 size:4 body.
 */
public final class MessagesAppendedSerializer extends SerializerWithStringManifest {
  private static final String MANIFEST = "MA1";
  private static final int HEADER = 12;
  private static final int PER_MESSAGE = 20;

  @Override
  public int identifier() {
    return 4151;
  }

  @Override
  public String manifest(Object o) {
    return MANIFEST;
  }

  @Override
  public byte[] toBinary(Object o) {
    Topic.MessagesAppended e = (Topic.MessagesAppended) o;
    int size = HEADER;
    for (Published p : e.messages()) size += PER_MESSAGE + p.body().length();
    ByteBuffer buf = ByteBuffer.allocate(size);
    buf.putLong(e.firstOffset()).putInt(e.messages().size());
    for (Published p : e.messages()) {
      buf.putLong(p.timestamp()).putLong(p.deliverAt()).putInt(p.body().length());
      p.body().copyToBuffer(buf);
    }
    return buf.array();
  }

  @Override
  public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
    if (!MANIFEST.equals(manifest)) throw new NotSerializableException("unknown manifest " + manifest);
    ByteBuffer buf = ByteBuffer.wrap(bytes);
    long firstOffset = buf.getLong();
    int count = buf.getInt();
    List<Published> messages = new ArrayList<>(count);
    ByteString all = ByteString.fromArrayUnsafe(bytes);
    for (int i = 0; i < count; i++) {
      long timestamp = buf.getLong();
      long deliverAt = buf.getLong();
      int length = buf.getInt();
      // Bodies are slices of the one array read from the journal: no copy per message.
      messages.add(new Published(all.slice(buf.position(), buf.position() + length), timestamp, deliverAt));
      buf.position(buf.position() + length);
    }
    return new Topic.MessagesAppended(firstOffset, List.copyOf(messages));
  }
}
