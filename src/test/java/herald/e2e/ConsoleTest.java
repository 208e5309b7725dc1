package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import com.sun.net.httpserver.HttpServer;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static herald.e2e.Browser.click;
import static herald.e2e.Browser.text;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The operator console (GET /) in a real headless Chromium against a real node. */
class ConsoleTest extends SharedNode {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static Browser browser;
  private static WebDriver driver;

  @BeforeAll
  static void start() throws Exception {
    startNode();
    browser = Browser.start();
    driver = browser.driver;
  }

  @AfterAll
  static void stopBrowser() throws Exception {
    if (browser != null) browser.close();
  }

  @Test
  void servesTheConsoleAndKeepsJsonErrorsElsewhere() throws Exception {
    HttpResponse<String> index = get("/");
    assertEquals(200, index.statusCode());
    assertTrue(index.headers().firstValue("Content-Type").orElse("").startsWith("text/html"), index.headers().toString());
    assertTrue(index.body().contains("/console/console.js"), index.body());
    HttpResponse<String> js = get("/console/console.js");
    assertEquals(200, js.statusCode());
    assertTrue(js.headers().firstValue("Content-Type").orElse("").contains("javascript"), js.headers().toString());
    HttpResponse<String> css = get("/console/console.css");
    assertEquals(200, css.statusCode());
    assertTrue(css.headers().firstValue("Content-Type").orElse("").startsWith("text/css"), css.headers().toString());

    // A browser would otherwise keep the page for a while on its own (heuristic freshness from
    // Last-Modified), and after an upgrade run the old console against the new node.
    for (HttpResponse<String> r : List.of(index, js, css)) {
      assertEquals("no-cache", r.headers().firstValue("Cache-Control").orElse(""), r.uri() + " " + r.headers());
    }

    HttpClientHelper.Response missing = http.get("/console/missing.js");
    assertEquals(404, missing.status());
    assertEquals("NOT_FOUND", missing.code());
    HttpClientHelper.Response post = http.post("/", "x");
    assertEquals(405, post.status());
    assertEquals("METHOD_NOT_ALLOWED", post.code());
    assertEquals("NOT_FOUND", http.get("/no-such-page").code());
  }

  @Test
  void operatorSeesTopicsPausesAChannelAndTails() throws Exception {
    String topic = unique("console-orders");
    String channel = "workers";
    http.createChannel(topic, channel);
    for (String body : List.of("one", "two", "three")) assertEquals(200, http.post("/pub?topic=" + topic, body).status());

    try (WsConsumer worker = WsConsumer.subscribe(node, "topic=" + topic + "&channel=" + channel + "&client_id=worker-1")) {
      // One message taken and finished, then RDY 0: depth 2, one consumer with finish_count 1.
      worker.send("RDY 1");
      String id = worker.messages(1, WAIT).get(0).json().path("id").asText();
      worker.send("RDY 0");
      worker.send("FIN " + id);
      Await.until(WAIT, "FIN applied", () -> {
        JsonNode ch = http.channelStats(topic, channel);
        return ch.path("depth").asInt() == 2 && ch.path("in_flight_count").asInt() == 0;
      });

      WebDriverWait wait = new WebDriverWait(driver, WAIT);
      driver.get(node.baseUrl() + "/");
      String topicRow = "tr[data-topic='" + topic + "'] ";
      // Overview: the node, and the topic with its depth.
      wait.until(d -> text(d, "tr[data-node] td[data-col='status']").startsWith("up"));
      wait.until(d -> text(d, topicRow + "td[data-col='depth']").equals("2"));
      screenshot("console-overview.png");

      // Topics page, then the topic page by its link.
      click(wait, By.cssSelector("nav a[data-nav='topics']"));
      wait.until(d -> d.getCurrentUrl().endsWith("#/topics") && text(d, topicRow + "td[data-col='message_count']").equals("3"));
      click(wait, By.cssSelector(topicRow + "a"));
      String channelRow = "tr[data-channel='" + channel + "'] ";
      wait.until(d -> text(d, channelRow + "td[data-col='depth']").equals("2")
          && text(d, channelRow + "td[data-col='client_count']").equals("1"));

      // Channel page: its consumer.
      click(wait, By.cssSelector(channelRow + "a"));
      String clientRow = "tr[data-client='worker-1'] ";
      wait.until(d -> text(d, clientRow + "td[data-col='finish_count']").equals("1"));
      assertEquals("0", text(driver, clientRow + "td[data-col='ready_count']"));
      assertEquals("0", text(driver, clientRow + "td[data-col='timeout_count']"));
      assertTrue(text(driver, clientRow + "td[data-col='connect_ts']").matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d"),
          text(driver, clientRow + "td[data-col='connect_ts']"));

      // Back to the topic; pause the channel with a click and a confirmation.
      click(wait, By.cssSelector("h1 a[href='#/topic/" + topic + "']"));
      click(wait, By.cssSelector(channelRow + "button[data-act='pause']"));
      wait.until(ExpectedConditions.alertIsPresent()).accept();
      Await.until(WAIT, "channel paused in /stats", () -> http.channelStats(topic, channel).path("paused").asBoolean());
      wait.until(d -> text(d, channelRow + "td[data-col='paused']").equals("paused")
          && !d.findElements(By.cssSelector(channelRow + "button[data-act='unpause']")).isEmpty());

      // The topic's retention, its own once set (POST /topic/config), in the topic's summary.
      wait.until(d -> text(d, "#retention").equals("retention none"));
      assertEquals(200, http.post("/topic/config?topic=" + topic, "{\"retention_time\": \"2h\"}").status());
      wait.until(d -> text(d, "#retention").equals("retention 2 h"));

      // Rewind: asked where to (a prompt), then confirmed; the channel's rewind_count counts it.
      click(wait, By.cssSelector(channelRow + "button[data-act='rewind']"));
      var where = wait.until(ExpectedConditions.alertIsPresent());
      where.sendKeys("earliest");
      where.accept();
      var confirm = wait.until(ExpectedConditions.alertIsPresent());
      assertTrue(confirm.getText().contains("to earliest?"), confirm.getText());
      confirm.accept();
      Await.until(WAIT, "channel rewound in /stats", () -> http.channelStats(topic, channel).path("rewind_count").asInt() == 1);
      wait.until(d -> text(d, "#notice").contains("rewind"));

      // A failing action shows the API's error code.
      driver.findElement(By.id("create-channel-name")).sendKeys("bad*name");
      click(wait, By.cssSelector("#create-channel button[type='submit']"));
      wait.until(ExpectedConditions.alertIsPresent()).accept();
      wait.until(d -> text(d, "#notice").contains("400 INVALID_ARG_CHANNEL"));

      // Tail: a message published while tailing shows up, as text (not markup), and is FINed.
      click(wait, By.id("tail-toggle"));
      wait.until(d -> "live".equals(d.findElement(By.id("tail-status")).getAttribute("data-state")));
      String body = "tailed <b>not bold</b> " + topic;
      assertEquals(200, http.post("/pub?topic=" + topic, body).status());
      wait.until(d -> d.findElements(By.cssSelector("#tail-list li pre.body")).stream().anyMatch(e -> e.getText().equals(body)));
      assertTrue(driver.findElements(By.cssSelector("#tail-list b")).isEmpty(), "message body rendered as markup");
      Await.until(WAIT, "the tail FINed its message", () -> {
        JsonNode tail = tailChannel(topic);
        return tail != null && tail.path("clients").path(0).path("finish_count").asInt() == 1
            && tail.path("in_flight_count").asInt() == 0;
      });
      // The paused channel keeps collecting: depth 3 now.
      wait.until(d -> text(d, channelRow + "td[data-col='depth']").equals("3"));

      screenshot("console.png");

      // Stopping the tail closes its socket; its ephemeral channel goes away.
      click(wait, By.id("tail-toggle"));
      Await.until(WAIT, "the tail's ephemeral channel is gone", () -> tailChannel(topic) == null);

      // Deleting the topic from its page: confirmation, back to the topic list, gone from /stats.
      click(wait, By.cssSelector("button[data-kind='topic'][data-act='delete']"));
      wait.until(ExpectedConditions.alertIsPresent()).accept();
      wait.until(d -> d.getCurrentUrl().endsWith("#/topics") && d.findElements(By.cssSelector("tr[data-topic='" + topic + "']")).isEmpty());
      assertEquals(0, http.stats(topic, null).path("topics").size());
      assertTrue(worker.closed().get(20, TimeUnit.SECONDS) > 0, "the worker is disconnected with its channel");
    }
  }

  @Test
  void aChannelsDeadLettersAreCountedAndLinkToTheirTopic() throws Exception {
    String topic = unique("console-jobs");
    http.createChannel(topic, "w");
    assertEquals(200, http.post("/channel/config?topic=" + topic + "&channel=w", "{\"max_attempts\": 1}").status());
    assertEquals(200, http.post("/pub?topic=" + topic, "poison").status());
    try (WsConsumer c = WsConsumer.subscribe(node, "topic=" + topic + "&channel=w")) {
      c.send("RDY 1");
      c.send("REQ " + c.messages(1, WAIT).get(0).json().path("id").asText() + " 0");
      Await.until(WAIT, "dead-lettered", () -> http.channelStats(topic, "w").path("dead_letter_count").asInt() == 1);
    }
    WebDriverWait wait = new WebDriverWait(driver, WAIT);
    driver.get(node.baseUrl() + "/#/topic/" + topic);
    String cell = "tr[data-channel='w'] td[data-col='dead_letter_count']";
    wait.until(d -> text(d, cell).equals("1"));
    click(wait, By.cssSelector(cell + " a"));
    wait.until(d -> d.getCurrentUrl().endsWith("#/topic/" + topic + ".w.dead"));
    // The dead-letter topic's page: its one message waits for a first channel.
    wait.until(d -> text(d, "h1").endsWith(topic + ".w.dead") && text(d, "p.summary").contains("1 held for a first channel"));
  }

  @Test
  void aPageOnAnotherOriginCannotDriveTheNode() throws Exception {
    String topic = unique("console-victim");
    http.createChannel(topic, "keep");
    // What any site the operator visits could serve: a "simple" cross-origin POST and a WebSocket.
    String page = """
        <!doctype html><html><body><pre id="out">running</pre><script>
        const out = document.getElementById('out');
        fetch('%1$s/topic/delete?topic=%2$s', {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: 'x'})
          .then(() => out.dataset.post = 'sent', () => out.dataset.post = 'failed');
        const ws = new WebSocket('%3$s/sub?topic=%2$s&channel=evil');
        ws.onopen = () => out.dataset.ws = 'open';
        ws.onclose = () => { if (out.dataset.ws !== 'open') out.dataset.ws = 'refused'; };
        </script></body></html>
        """.formatted(node.baseUrl(), topic, node.wsUrl());
    HttpServer evil = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    evil.createContext("/", exchange -> {
      byte[] body = page.getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "text/html; charset=utf-8");
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    evil.start();
    try {
      // localhost:P is another origin than the node's 127.0.0.1:Q (host and port differ).
      driver.get("http://localhost:" + evil.getAddress().getPort() + "/");
      WebDriverWait wait = new WebDriverWait(driver, WAIT);
      wait.until(d -> d.findElement(By.id("out")).getAttribute("data-post") != null
          && d.findElement(By.id("out")).getAttribute("data-ws") != null);
      assertEquals("refused", driver.findElement(By.id("out")).getAttribute("data-ws"));
      assertEquals("sent", driver.findElement(By.id("out")).getAttribute("data-post"), "the browser did send the POST");
    } finally {
      evil.stop(0);
    }
    JsonNode stats = http.stats(topic, null).path("topics").path(0);
    assertEquals(topic, stats.path("topic_name").asText(), "the topic survives the foreign page");
    assertEquals(1, stats.path("channels").size(), "the foreign WebSocket created no channel: " + stats);
  }

  private static void screenshot(String name) throws Exception {
    browser.screenshot(name);
  }

  private static JsonNode tailChannel(String topic) throws Exception {
    for (JsonNode c : http.stats(topic, null).path("topics").path(0).path("channels")) {
      if (c.path("channel_name").asText().startsWith("tail-")) return c;
    }
    return null;
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(node.baseUrl() + path)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
