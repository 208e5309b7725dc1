package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** End-to-end processing latency in /stats, and GET /metrics in Prometheus text format, against a real node. */
@Timeout(60)
class MetricsTest extends SharedNode {
  private static final Duration WAIT = Duration.ofSeconds(20);

  @BeforeAll
  static void start() throws Exception {
    startNode();
  }

  @Test
  void e2eLatencyCountsTheFins() throws Exception {
    String topic = unique("e2e");
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=work")) {
      long before = System.currentTimeMillis();
      assertEquals(200, http.post("/mpub?topic=" + topic, "a\nb\nc\nd\ne").status());
      c.send("RDY 10");
      List<WsConsumer.Frame> got = c.messages(5, WAIT);
      for (int i = 0; i < 3; i++) c.send("FIN " + got.get(i).json().path("id").asText());
      Await.until(WAIT, "3 FINs counted", () -> latency(topic).path("count").asLong() == 3);
      long bound = (System.currentTimeMillis() - before) * 1_000_000L;

      JsonNode e2e = latency(topic);
      JsonNode percentiles = e2e.path("percentiles");
      double[] quantiles = {0.5, 0.95, 0.99, 0.999, 1.0};
      assertEquals(quantiles.length, percentiles.size(), e2e::toString);
      long last = 0;
      for (int i = 0; i < quantiles.length; i++) {
        JsonNode p = percentiles.get(i);
        assertEquals(quantiles[i], p.path("quantile").asDouble(), e2e::toString);
        long value = p.path("value").asLong();
        assertTrue(value >= last, () -> "percentiles grow: " + e2e);
        assertTrue(value <= bound * 1.02, () -> "no latency above the time since publishing (" + bound + " ns): " + e2e);
        assertEquals(0, value % 1_000_000, () -> "nanoseconds of millisecond precision: " + e2e);
        last = value;
      }

      String text = http.get("/stats?topic=" + topic).body();
      assertTrue(text.contains("e2e processing latency: count: 3 p50: "), text);

      Map<String, Double> m = samples(scrape().body());
      String labels = "{node=\"" + node.httpAddress() + "\",topic=\"" + topic + "\",channel=\"work\"";
      assertEquals(3.0, m.get("herald_channel_e2e_processing_latency_seconds_count" + labels + "}"));
      assertNotNull(m.get("herald_channel_e2e_processing_latency_seconds" + labels + ",quantile=\"0.99\"}"), m.keySet()::toString);
      assertNotNull(m.get("herald_channel_e2e_processing_latency_max_seconds" + labels + "}"));
      assertEquals(2.0, m.get("herald_channel_in_flight" + labels + "}"), "two delivered, not FINed");
    }
  }

  @Test
  void metricsAreValidPrometheusTextAndMatchWhatWasPublished() throws Exception {
    String topic = unique("metrics");
    assertEquals(200, http.post("/topic/create?topic=" + topic, "").status());
    assertEquals(200, http.post("/channel/create?topic=" + topic + "&channel=archive", "").status());
    assertEquals(200, http.post("/pub?topic=" + topic, "one").status());
    assertEquals(200, http.post("/mpub?topic=" + topic, "two\nthree\nfour").status());

    HttpResponse<String> r = scrape();
    assertEquals(200, r.statusCode());
    String type = r.headers().firstValue("Content-Type").orElse("");
    assertTrue(type.startsWith("text/plain") && type.contains("version=0.0.4"), type);
    Map<String, Double> m = samples(r.body());

    String nodeLabel = "node=\"" + node.httpAddress() + "\"";
    String t = "{" + nodeLabel + ",topic=\"" + topic + "\"}";
    String c = "{" + nodeLabel + ",topic=\"" + topic + "\",channel=\"archive\"}";
    assertEquals(4.0, m.get("herald_messages_published_total" + t), () -> "published through this node: " + m.keySet());
    assertEquals(4.0, m.get("herald_topic_messages_total" + t));
    assertEquals(0.0, m.get("herald_topic_depth" + t), "the channel has them");
    assertEquals(0.0, m.get("herald_topic_journal_deleted_to" + t), "nothing consumed, nothing deleted");
    assertEquals(4.0, m.get("herald_channel_depth" + c));
    assertEquals(4.0, m.get("herald_channel_messages_total" + c));
    assertEquals(0.0, m.get("herald_channel_in_flight" + c));
    assertEquals(0.0, m.get("herald_channel_deferred" + c));
    assertEquals(0.0, m.get("herald_channel_requeues_total" + c));
    assertEquals(0.0, m.get("herald_channel_timeouts_total" + c));
    assertEquals(0.0, m.get("herald_channel_consumers" + c));
    assertEquals(0.0, m.get("herald_channel_e2e_processing_latency_seconds_count" + c));
    assertEquals(1.0, m.get("herald_stats_up{" + nodeLabel + "}"));
    assertTrue(m.get("herald_journal_write_seconds_count{" + nodeLabel + "}") >= 2, "two publishes, at least two writes");
    assertTrue(m.get("herald_journal_write_batch_messages_sum{" + nodeLabel + "}") >= 4, "the 4 messages were written");
    assertTrue(m.keySet().stream().anyMatch(k -> k.startsWith("jvm_memory_used_bytes{")), "JVM memory");
    assertTrue(m.keySet().stream().anyMatch(k -> k.startsWith("jvm_gc_")), "JVM GC");
    assertTrue(m.keySet().stream().anyMatch(k -> k.startsWith("jvm_threads_live_threads{")), "JVM threads");
    assertTrue(m.keySet().stream().anyMatch(k -> k.startsWith("system_cpu_count{")), "processor");
    assertTrue(m.keySet().stream().filter(k -> k.startsWith("herald_") || k.startsWith("jvm_"))
        .allMatch(k -> k.contains(nodeLabel)), "every herald and JVM series has the node label");
  }

  private static JsonNode latency(String topic) throws Exception {
    JsonNode c = http.channelStats(topic, "work");
    return c == null ? com.fasterxml.jackson.databind.node.MissingNode.getInstance() : c.path("e2e_processing_latency");
  }

  private static HttpResponse<String> scrape() throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(node.baseUrl() + "/metrics")).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern HELP = Pattern.compile("# HELP (" + NAME + ") .*");
  private static final Pattern TYPE = Pattern.compile("# TYPE (" + NAME + ") (counter|gauge|summary|histogram|untyped)");
  private static final String LABEL = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"";
  private static final Pattern SAMPLE = Pattern.compile("(" + NAME + ")(\\{" + LABEL + "(?:," + LABEL + ")*})? "
      + "([-+]?(?:\\d+(?:\\.\\d*)?(?:[eE][-+]?\\d+)?|NaN|Inf))");

  /**
   * Checks the text exposition format line by line (HELP, TYPE once per family and before its
   * samples, sample syntax, no series twice) and returns every sample by name and labels.
   */
  static Map<String, Double> samples(String text) {
    Map<String, String> types = new HashMap<>();
    Map<String, Double> samples = new HashMap<>();
    Set<String> helped = new HashSet<>();
    assertTrue(text.endsWith("\n"), "ends with a newline");
    for (String line : text.split("\n")) {
      if (line.isEmpty()) continue;
      Matcher m;
      if ((m = HELP.matcher(line)).matches()) {
        assertTrue(helped.add(m.group(1)), "one HELP for " + m.group(1));
      } else if ((m = TYPE.matcher(line)).matches()) {
        assertTrue(types.putIfAbsent(m.group(1), m.group(2)) == null, "one TYPE for " + m.group(1));
      } else {
        assertTrue(!line.startsWith("#"), "unknown comment line: " + line);
        m = SAMPLE.matcher(line);
        assertTrue(m.matches(), "not a sample line: " + line);
        String name = m.group(1);
        String family = types.containsKey(name) ? name : name.replaceAll("_(bucket|count|sum)$", "");
        assertTrue(types.containsKey(family), "sample before or without its TYPE: " + line);
        if (!family.equals(name)) {
          String type = types.get(family);
          assertTrue(type.equals("histogram") || type.equals("summary"), "suffix on a " + type + ": " + line);
        }
        String key = name + (m.group(2) == null ? "" : m.group(2));
        assertTrue(samples.put(key, Double.parseDouble(m.group(3).replace("Inf", "Infinity"))) == null, "series twice: " + key);
      }
    }
    return samples;
  }
}
