package herald.broker;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The REQ deferrals a channel has written, by offset: due time, topic write and attempts of each
 * message a consumer requeued with a delay and that has not come back yet. A channel writes only
 * what changed since its last write (so a write costs what changed, not how many wait), and this
 * set, the sum of those changes, is its state's and its snapshots'. It is changed in place as the
 * changes are applied: a million deferrals are not copied per write.
 *
 * <p>Written as one flat array sorted by offset, each entry as four numbers relative to the entry
 * before (offset, topic write and due time as differences, then attempts): neighbours differ
 * little, so CBOR spends a few bytes per deferral. Reads the older form (a list of objects) too.
 */
@JsonSerialize(using = Deferrals.Writer.class)
@JsonDeserialize(using = Deferrals.Reader.class)
public final class Deferrals {
  private final TreeMap<Long, Channel.Deferral> byOffset = new TreeMap<>();

  public Deferrals() {}

  public Deferrals(Collection<Channel.Deferral> deferrals) {
    putAll(deferrals);
  }

  public Channel.Deferral get(long offset) {
    return byOffset.get(offset);
  }

  public int size() {
    return byOffset.size();
  }

  public boolean isEmpty() {
    return byOffset.isEmpty();
  }

  /** A later deferral of the same offset replaces the earlier one. */
  public void put(Channel.Deferral d) {
    byOffset.put(d.offset(), d);
  }

  public void putAll(Collection<Channel.Deferral> deferrals) {
    for (Channel.Deferral d : deferrals) put(d);
  }

  public void putAll(Deferrals other) {
    byOffset.putAll(other.byOffset);
  }

  /** Forgets the offsets in the ranges [start0, end0), [start1, end1), ... */
  public void removeRanges(long[] ranges) {
    if (ranges == null) return;
    for (int i = 0; i + 1 < ranges.length; i += 2) byOffset.subMap(ranges[i], ranges[i + 1]).clear();
  }

  public void clear() {
    byOffset.clear();
  }

  /** In offset order. */
  public List<Channel.Deferral> toList() {
    return new ArrayList<>(byOffset.values());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Deferrals d && byOffset.equals(d.byOffset);
  }

  @Override
  public int hashCode() {
    return byOffset.hashCode();
  }

  @Override
  public String toString() {
    return "Deferrals" + byOffset.values();
  }

  static final class Writer extends JsonSerializer<Deferrals> {
    @Override
    public void serialize(Deferrals value, JsonGenerator gen, SerializerProvider provider) throws IOException {
      gen.writeStartArray();
      long offset = 0;
      long seqNr = 0;
      long due = 0;
      for (Map.Entry<Long, Channel.Deferral> e : value.byOffset.entrySet()) {
        Channel.Deferral d = e.getValue();
        gen.writeNumber(d.offset() - offset);
        gen.writeNumber(d.seqNr() - seqNr);
        gen.writeNumber(d.due() - due);
        gen.writeNumber(d.attempts());
        offset = d.offset();
        seqNr = d.seqNr();
        due = d.due();
      }
      gen.writeEndArray();
    }
  }

  static final class Reader extends JsonDeserializer<Deferrals> {
    @Override
    public Deferrals deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      Deferrals out = new Deferrals();
      if (p.currentToken() != JsonToken.START_ARRAY) {
        return (Deferrals) ctxt.handleUnexpectedToken(Deferrals.class, p);
      }
      long offset = 0;
      long seqNr = 0;
      long due = 0;
      for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
        if (t == JsonToken.START_OBJECT) {
          // The older form: {offset, seqNr, due}, attempts kept elsewhere.
          out.put(ctxt.readValue(p, Channel.Deferral.class));
          continue;
        }
        offset += p.getLongValue();
        p.nextToken();
        seqNr += p.getLongValue();
        p.nextToken();
        due += p.getLongValue();
        p.nextToken();
        out.put(new Channel.Deferral(offset, seqNr, due, p.getIntValue()));
      }
      return out;
    }

    @Override
    public Deferrals getNullValue(DeserializationContext ctxt) {
      return new Deferrals();
    }
  }
}
