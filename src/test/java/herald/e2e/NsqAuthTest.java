package herald.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** NSQ's AUTH on the TCP listener of a node with --auth-file: nsqd's answers and codes. */
class NsqAuthTest extends SharedNode {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String T = "tcp-auth-orders";

  @BeforeAll
  static void start() throws Exception {
    Path file = Files.createTempFile("herald-tcp-auth-", ".json");
    Files.writeString(file, """
        {"identities": [
          {"identity": "publisher", "secret": "pub-secret",
           "authorizations": [{"topic": "^tcp-auth-orders$", "permissions": ["publish"]}]},
          {"identity": "consumer", "secret": "sub-secret",
           "authorizations": [{"topic": "^tcp-auth-orders$", "channels": ["^workers$"], "permissions": ["subscribe"]}]},
          {"identity": "nobody", "secret": "nobody-secret", "authorizations": []}
        ]}
        """);
    startNode("--auth-file", file.toString());
  }

  private static NsqSocket connect() throws Exception {
    return new NsqSocket(node.tcpPort());
  }

  private static void assertFatal(NsqSocket s, String expected) throws Exception {
    assertEquals("error " + expected, String.valueOf(s.lastFrameBeforeClose(WAIT)));
  }

  @Test
  void identifySaysAuthIsRequiredAndNothingGoesWithoutIt() throws Exception {
    try (NsqSocket s = connect()) {
      JsonNode answer = s.identify("{\"feature_negotiation\":true}").json();
      assertTrue(answer.path("auth_required").asBoolean(), answer::toString);
      s.send("PUB " + T, "x");
      assertFatal(s, "E_AUTH_FIRST AUTH required before PUB");
    }
    try (NsqSocket s = connect()) {
      s.send("SUB " + T + " workers");
      assertFatal(s, "E_AUTH_FIRST AUTH required before SUB");
    }
  }

  @Test
  void authGrantsExactlyItsRights() throws Exception {
    try (NsqSocket pub = connect(); NsqSocket sub = connect()) {
      sub.send("AUTH", "sub-secret");
      JsonNode who = sub.next(WAIT).json();
      assertEquals("consumer", who.path("identity").asText());
      assertEquals(1, who.path("permission_count").asInt());
      sub.send("SUB " + T + " workers");
      assertEquals("response OK", sub.next(WAIT).toString());
      sub.send("RDY 1");
      pub.send("AUTH", "pub-secret");
      assertEquals("publisher", pub.next(WAIT).json().path("identity").asText());
      pub.send("PUB " + T, "allowed");
      assertEquals("response OK", pub.next(WAIT).toString());
      assertEquals("allowed", sub.next(WAIT).body());
      pub.send("PUB other-topic", "refused");
      assertFatal(pub, "E_UNAUTHORIZED AUTH failed for PUB on \"other-topic\" \"\"");
    }
    try (NsqSocket s = connect()) {
      s.send("AUTH", "sub-secret");
      s.next(WAIT);
      s.send("SUB " + T + " other");
      assertFatal(s, "E_UNAUTHORIZED AUTH failed for SUB on \"" + T + "\" \"other\"");
    }
    try (NsqSocket s = connect()) {
      s.send("AUTH", "pub-secret");
      s.next(WAIT);
      s.send("AUTH", "pub-secret");
      assertFatal(s, "E_INVALID AUTH already set");
    }
  }

  @Test
  void wrongSecretsAreRefused() throws Exception {
    try (NsqSocket s = connect()) {
      s.send("AUTH", "no-such-secret");
      assertFatal(s, "E_AUTH_FAILED AUTH failed");
    }
    try (NsqSocket s = connect()) {
      s.send("AUTH", "nobody-secret");
      assertFatal(s, "E_UNAUTHORIZED AUTH no authorizations found");
    }
  }
}
