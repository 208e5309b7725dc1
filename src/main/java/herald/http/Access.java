package herald.http;

import herald.security.Right;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.Query;

import java.util.Optional;

/**
 * What a request needs: a right on a topic (and channel), or only a known identity ({@code right}
 * null). Paths no rule names need stats to read and admin to change anything, so an endpoint added
 * later is never open by mistake.
 */
record Access(Right right, String topic, String channel) {

  /** Empty: open to anyone (/ping and the console's static files, which hold no data). */
  static Optional<Access> of(HttpRequest request) {
    String path = request.getUri().path();
    Query q = request.getUri().query();
    String topic = q.get("topic").orElse("");
    String channel = q.get("channel").orElse("");
    boolean reading = request.method().equals(HttpMethods.GET) || request.method().equals(HttpMethods.HEAD);
    if (path.equals("/ping") || (reading && (path.equals("/") || path.startsWith("/console/")))) return Optional.empty();
    if (path.equals("/pub") || path.equals("/mpub")) return Optional.of(new Access(Right.PUBLISH, topic, ""));
    if (path.equals("/sub")) return Optional.of(new Access(Right.SUBSCRIBE, topic, channel));
    if (path.startsWith("/topic/")) return Optional.of(new Access(Right.ADMIN, topic, ""));
    if (path.startsWith("/channel/")) return Optional.of(new Access(Right.ADMIN, topic, channel));
    if (path.equals(Guard.IDENTITY_PATH)) return Optional.of(new Access(null, "", ""));
    return Optional.of(new Access(reading ? Right.STATS : Right.ADMIN, topic, ""));
  }
}
