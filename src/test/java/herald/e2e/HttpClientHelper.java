package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Plain HTTP against a node, as curl would do it. */
public final class HttpClientHelper {
  private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final ObjectMapper JSON = new ObjectMapper();
  private final String base;

  public record Response(int status, String body) {
    public JsonNode json() {
      try {
        return JSON.readTree(body);
      } catch (IOException e) {
        throw new AssertionError("not JSON: " + body, e);
      }
    }

    /** The NSQ error code of an error response. */
    public String code() {
      return json().path("message").asText();
    }
  }

  public HttpClientHelper(String base) {
    this.base = base;
  }

  /** Creates the topic and its channel, failing the test unless both answer 200. */
  public void createChannel(String topic, String channel) throws IOException {
    for (String path : new String[] {"/topic/create?topic=" + topic, "/channel/create?topic=" + topic + "&channel=" + channel}) {
      Response r = post(path, "");
      if (r.status() != 200) throw new AssertionError("POST " + path + ": " + r.status() + " " + r.body());
    }
  }

  public Response get(String path) throws IOException {
    return send(HttpRequest.newBuilder(URI.create(base + path)).GET());
  }

  public Response post(String path, String body) throws IOException {
    return post(path, body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  public Response post(String path, byte[] body) throws IOException {
    return send(HttpRequest.newBuilder(URI.create(base + path)).POST(HttpRequest.BodyPublishers.ofByteArray(body)));
  }

  /** A POST with one extra header, such as X-Herald-Msg-Id. */
  public Response post(String path, String body, String header, String value) throws IOException {
    return send(HttpRequest.newBuilder(URI.create(base + path)).header(header, value)
        .POST(HttpRequest.BodyPublishers.ofString(body)));
  }

  public Response method(String method, String path) throws IOException {
    return send(HttpRequest.newBuilder(URI.create(base + path)).method(method, HttpRequest.BodyPublishers.noBody()));
  }

  private Response send(HttpRequest.Builder request) throws IOException {
    try {
      HttpResponse<String> r = CLIENT.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
      return new Response(r.statusCode(), r.body());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  /** nsqd's /stats?format=json for one topic (and channel, when given), as JSON. */
  public JsonNode stats(String topic, String channel) throws IOException {
    String path = "/stats?format=json&topic=" + topic + (channel == null ? "" : "&channel=" + channel);
    return get(path).json();
  }

  public JsonNode channelStats(String topic, String channel) throws IOException {
    for (JsonNode t : stats(topic, channel).path("topics")) {
      for (JsonNode c : t.path("channels")) {
        if (c.path("channel_name").asText().equals(channel)) return c;
      }
    }
    return null;
  }
}
