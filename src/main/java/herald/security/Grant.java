package herald.security;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * One authorization as nsqauthd answers it: rights on the topics matching one pattern and the
 * channels matching any of a list. Patterns match anywhere in the name, as Go's regexp.MatchString
 * does in nsqd: anchor them (^orders$) to mean one name.
 */
public record Grant(Pattern topic, List<Pattern> channels, Set<Right> rights) {

  /** Parses one authorization; an unknown permission or a bad pattern is refused, as nsqd does. */
  public static Grant of(String topic, List<String> channels, List<String> permissions) {
    Set<Right> rights = EnumSet.noneOf(Right.class);
    for (String p : permissions) {
      rights.add(Right.parse(p).orElseThrow(() -> new IllegalArgumentException("unknown permission '" + p + "'")));
    }
    List<Pattern> compiled = new ArrayList<>();
    for (String c : channels) compiled.add(compile(c, "channel"));
    return new Grant(compile(topic, "topic"), List.copyOf(compiled), Set.copyOf(rights));
  }

  /**
   * An "authorizations" array: nsqauthd's answer, and each identity of an auth file. A missing
   * "channels" means every channel (nsqd would read it as none, which also refuses publish).
   */
  public static List<Grant> listFrom(JsonNode authorizations) {
    if (!authorizations.isArray()) throw new IllegalArgumentException("\"authorizations\" must be an array");
    List<Grant> grants = new ArrayList<>();
    for (JsonNode a : authorizations) {
      List<String> channels = new ArrayList<>();
      if (a.has("channels")) a.path("channels").forEach(c -> channels.add(c.asText()));
      else channels.add(".*");
      List<String> permissions = new ArrayList<>();
      a.path("permissions").forEach(p -> permissions.add(p.asText()));
      grants.add(of(a.hasNonNull("topic") ? a.get("topic").asText() : null, channels, permissions));
    }
    return List.copyOf(grants);
  }

  private static Pattern compile(String regex, String what) {
    if (regex == null) throw new IllegalArgumentException(what + " pattern missing");
    try {
      return Pattern.compile(regex);
    } catch (PatternSyntaxException e) {
      throw new IllegalArgumentException("bad " + what + " pattern '" + regex + "': " + e.getDescription());
    }
  }

  /**
   * nsqd's Authorization.IsAllowed, with Herald's rights: the right, the topic, and one channel
   * pattern must match. Topic-wide actions (publish, topic admin) use the channel "", so a grant
   * whose channels are all anchored to names covers those channels only, not their topic.
   */
  public boolean allows(Right right, String topicName, String channelName) {
    if (!rights.contains(right)) return false;
    if (!topic.matcher(topicName).find()) return false;
    for (Pattern c : channels) {
      if (c.matcher(channelName).find()) return true;
    }
    return false;
  }
}
