package herald.broker;

import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.serialization.*;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;
import java.util.List;

class ScratchJacksonTest {
  @Test
  void probe() {
    ActorTestKit tk = ActorTestKit.create("scratch",
        ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load()));
    Serialization ser = SerializationExtension.get(tk.system());
    var probe = tk.<Object>createTestProbe();
    Published p = new Published(ByteString.fromString("hi"), 1, 2);
    for (Object o : List.<Object>of(
        new Topic.Append(List.of(p), probe.ref().unsafeUpcast()),
        new Channel.Push(3, new Topic.MessagesAppended(0, List.of(p))),
        new ConsumerProtocol.Deliver(List.of(new ConsumerProtocol.Delivery(0, 1, 1, ByteString.fromString("hi")))),
        new Channel.Attached(true, new Topic.Start(0, 1), 1, 1, false, List.of(new Channel.Push(3, new Topic.MessagesAppended(0, List.of(p))))),
        BrokerEntity.Stop.INSTANCE,
        new Channel.State(true, false, 0, 0, 1, new long[] {1, 2}, List.of()))) {
      try {
        Serializer s = ser.findSerializerFor(o);
        byte[] b = ser.serialize(o).get();
        Object back = ser.deserialize(b, s.identifier(), Serializers.manifestFor(s, o)).get();
        System.out.println("OK " + o + " -> " + back + " equal=" + o.equals(back));
      } catch (Throwable t) {
        System.out.println("FAIL " + o.getClass() + ": " + t);
      }
    }
    tk.shutdownTestKit();
  }
}
