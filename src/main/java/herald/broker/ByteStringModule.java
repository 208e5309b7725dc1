package herald.broker;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import org.apache.pekko.util.ByteString;

import java.io.IOException;

/**
 * Message bodies cross nodes inside commands (Append, Push, Deliver): Jackson writes a ByteString
 * as one binary value (native bytes in CBOR) and reads it back. Registered in serialization.conf.
 */
public final class ByteStringModule extends SimpleModule {
  public ByteStringModule() {
    super("herald-bytestring");
    addSerializer(ByteString.class, new JsonSerializer<>() {
      @Override
      public void serialize(ByteString value, JsonGenerator gen, SerializerProvider provider) throws IOException {
        gen.writeBinary(value.toArrayUnsafe());
      }
    });
    addDeserializer(ByteString.class, new JsonDeserializer<>() {
      @Override
      public ByteString deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
        return ByteString.fromArrayUnsafe(p.getBinaryValue());
      }
    });
  }
}
