package herald.security;

import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Turns a secret into an identity. Asked once per HTTP request or WebSocket connection at the door
 * (and by the NSQ TCP protocol's AUTH command), never by the broker's entities.
 */
public interface Authorizer {
  /** The secret's identity; empty when the secret is unknown or the auth source refuses it. */
  CompletionStage<Optional<Identity>> identify(Credentials credentials);

  /** Where identities come from, for the start-up line. */
  String describe();
}
