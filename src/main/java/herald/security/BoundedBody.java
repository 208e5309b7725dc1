package herald.security;

import java.io.ByteArrayOutputStream;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;

/**
 * An HTTP answer's body as text, refused past a size. The JDK's string handler keeps a body of any
 * size in the heap: an auth server (or anyone on the plain-HTTP path to it) answering 256 MB ran a
 * node out of memory. A declared size over the limit is refused before anything is read, a longer
 * body once it passes the limit.
 */
final class BoundedBody implements HttpResponse.BodySubscriber<String> {
  private final CompletableFuture<String> result = new CompletableFuture<>();
  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final int limit;
  private final long declared;
  private Flow.Subscription subscription;

  private BoundedBody(int limit, long declared) {
    this.limit = limit;
    this.declared = declared;
  }

  static HttpResponse.BodyHandler<String> handler(int limit) {
    return info -> new BoundedBody(limit, info.headers().firstValueAsLong("Content-Length").orElse(-1));
  }

  @Override
  public CompletionStage<String> getBody() {
    return result;
  }

  @Override
  public void onSubscribe(Flow.Subscription s) {
    subscription = s;
    if (declared > limit) refuse(declared);
    else s.request(Long.MAX_VALUE);
  }

  @Override
  public void onNext(List<ByteBuffer> items) {
    if (result.isDone()) return;
    for (ByteBuffer b : items) {
      if ((long) bytes.size() + b.remaining() > limit) {
        refuse((long) bytes.size() + b.remaining());
        return;
      }
      byte[] part = new byte[b.remaining()];
      b.get(part);
      bytes.write(part, 0, part.length);
    }
  }

  private void refuse(long size) {
    subscription.cancel();
    result.completeExceptionally(new IllegalArgumentException(
        "answer of " + (size == declared ? size + " bytes" : "at least " + size + " bytes") + ", more than " + limit));
  }

  @Override
  public void onError(Throwable failure) {
    result.completeExceptionally(failure);
  }

  @Override
  public void onComplete() {
    result.complete(bytes.toString(StandardCharsets.UTF_8));
  }
}
