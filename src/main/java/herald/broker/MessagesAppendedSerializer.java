package herald.broker;

import org.apache.pekko.serialization.SerializerWithStringManifest;
import org.apache.pekko.util.ByteString;

import java.io.NotSerializableException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The compact binary form of the hot event: every published body passes through here once on its
 * way to the journal. Layout, big-endian: firstOffset:8 count:4 then per message
 * timestamp:8 deliverAt:8 size:4 body ("MA1"). A write in which some message has a dedup id is
 * "MA2": per message timestamp:8 deliverAt:8 idLength:1 id (ASCII; length 0 for none) size:4 body.
 * A write without ids stays MA1, byte for byte what it was before ids existed.
 */
public final class MessagesAppendedSerializer extends SerializerWithStringManifest {
  private static final String MANIFEST = "MA1";
  private static final String WITH_IDS = "MA2";
  private static final int HEADER = 12;
  private static final int PER_MESSAGE = 20;
  private static final int MAX_ID_BYTES = 255;

  @Override
  public int identifier() {
    return 4151;
  }

  @Override
  public String manifest(Object o) {
    return hasIds((Topic.MessagesAppended) o) ? WITH_IDS : MANIFEST;
  }

  private static boolean hasIds(Topic.MessagesAppended e) {
    for (Published p : e.messages()) if (p.dedupId() != null) return true;
    return false;
  }

  @Override
  public byte[] toBinary(Object o) {
    Topic.MessagesAppended e = (Topic.MessagesAppended) o;
    ByteBuffer buf = ByteBuffer.allocate(size(e));
    write(e, buf);
    return buf.array();
  }

  /** How many bytes {@link #write} puts down for {@code e}. */
  public static int size(Topic.MessagesAppended e) {
    boolean ids = hasIds(e);
    int size = HEADER;
    for (Published p : e.messages()) {
      size += PER_MESSAGE + p.body().length();
      if (ids) size += 1 + (p.dedupId() == null ? 0 : p.dedupId().length());
    }
    return size;
  }

  /**
   * Puts {@code e} down at {@code buf}'s position, exactly {@link #size} bytes: the same bytes as
   * {@link #toBinary}, for a journal that writes them straight into its own record (LevelDbJournal).
   */
  public static void write(Topic.MessagesAppended e, ByteBuffer buf) {
    boolean ids = hasIds(e);
    buf.putLong(e.firstOffset()).putInt(e.messages().size());
    for (Published p : e.messages()) {
      buf.putLong(p.timestamp()).putLong(p.deliverAt());
      if (ids) putId(buf, p.dedupId());
      buf.putInt(p.body().length());
      p.body().copyToBuffer(buf);
    }
  }

  private static void putId(ByteBuffer buf, String id) {
    if (id == null) {
      buf.put((byte) 0);
      return;
    }
    int length = id.length();
    if (length > MAX_ID_BYTES) throw new IllegalArgumentException("dedup id longer than " + MAX_ID_BYTES + " bytes");
    buf.put((byte) length);
    // As US-ASCII encodes it, without an array per id (every id is ASCII: DedupId, Names).
    for (int i = 0; i < length; i++) {
      char c = id.charAt(i);
      buf.put(c < 0x80 ? (byte) c : (byte) '?');
    }
  }

  @Override
  public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
    boolean ids = WITH_IDS.equals(manifest);
    if (!ids && !MANIFEST.equals(manifest)) throw new NotSerializableException("unknown manifest " + manifest);
    ByteBuffer buf = ByteBuffer.wrap(bytes);
    long firstOffset = buf.getLong();
    int count = buf.getInt();
    List<Published> messages = new ArrayList<>(count);
    ByteString all = ByteString.fromArrayUnsafe(bytes);
    for (int i = 0; i < count; i++) {
      long timestamp = buf.getLong();
      long deliverAt = buf.getLong();
      String id = null;
      if (ids) {
        int idLength = buf.get() & 0xff;
        if (idLength > 0) {
          id = new String(bytes, buf.position(), idLength, StandardCharsets.US_ASCII);
          buf.position(buf.position() + idLength);
        }
      }
      int length = buf.getInt();
      // Bodies are slices of the one array read from the journal: no copy per message.
      messages.add(new Published(all.slice(buf.position(), buf.position() + length), timestamp, deliverAt, id));
      buf.position(buf.position() + length);
    }
    return new Topic.MessagesAppended(firstOffset, List.copyOf(messages));
  }
}
