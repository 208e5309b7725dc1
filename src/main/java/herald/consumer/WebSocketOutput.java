package herald.consumer;

import herald.broker.ConsumerProtocol;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.http.javadsl.model.ws.BinaryMessage;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.TextMessage;

import java.util.ArrayList;
import java.util.List;

/** A WebSocket consumer's answers: JSON text frames, or NSQ's message frames in binary messages. */
public final class WebSocketOutput implements ConsumerOutput {
  /** A binary WebSocket message holds messages up to this size (or one bigger message). */
  static final int BINARY_MESSAGE_BYTES = 256 * 1024;

  /** Sent to the outgoing source to complete it, which closes the socket. */
  public static final Message END = TextMessage.create("");

  private final ActorRef<Message> out;
  private final boolean binary;

  public WebSocketOutput(ActorRef<Message> out, boolean binary) {
    this.out = out;
    this.binary = binary;
  }

  @Override
  public void subscribed(String topic, String channel) {
    out.tell(TextMessage.create(Frames.subscribed(topic, channel)));
  }

  @Override
  public void deliver(List<ConsumerProtocol.Delivery> messages) {
    if (!binary) {
      for (ConsumerProtocol.Delivery m : messages) out.tell(TextMessage.create(Frames.message(m)));
      return;
    }
    // Binary: NSQ frames back to back, as many per WebSocket message as fit in BINARY_MESSAGE_BYTES.
    List<ConsumerProtocol.Delivery> part = new ArrayList<>();
    long bytes = 0;
    for (ConsumerProtocol.Delivery m : messages) {
      long size = Frames.FRAME_OVERHEAD + m.body().length();
      if (!part.isEmpty() && bytes + size > BINARY_MESSAGE_BYTES) {
        out.tell(BinaryMessage.create(Frames.binaryFrames(part)));
        part = new ArrayList<>();
        bytes = 0;
      }
      part.add(m);
      bytes += size;
    }
    if (!part.isEmpty()) out.tell(BinaryMessage.create(Frames.binaryFrames(part)));
  }

  @Override
  public void failed(String code, String message) {
    out.tell(TextMessage.create(Frames.error(code, message)));
  }

  @Override
  public void closeWait() {
    out.tell(TextMessage.create(Frames.closeWait()));
  }


  @Override
  public void end() {
    out.tell(END);
  }
}
