package herald.http;

import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.pattern.StatusReply;

import java.util.concurrent.CompletionException;

/** An NSQ-style API error: an HTTP status and a body {"message":"CODE"}. */
public final class ApiError extends RuntimeException {
  private final StatusCode status;

  public ApiError(StatusCode status, String code) {
    super(code, null, false, false);
    this.status = status;
  }

  public static ApiError badRequest(String code) {
    return new ApiError(StatusCodes.BAD_REQUEST, code);
  }

  public static ApiError tooLarge(String code) {
    return new ApiError(StatusCodes.PAYLOAD_TOO_LARGE, code);
  }

  public String code() {
    return getMessage();
  }

  public HttpResponse response() {
    return response(status, getMessage());
  }

  public static HttpResponse response(StatusCode status, String code) {
    return HttpResponse.create()
        .withStatus(status)
        .withEntity(ContentTypes.APPLICATION_JSON, "{\"message\":\"" + code + "\"}");
  }

  /** Any failure of a request's pipeline as the response the client gets. */
  public static HttpResponse toResponse(Throwable failure) {
    Throwable t = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    if (t instanceof ApiError e) return e.response();
    // Nothing was stored; the reason is in /stats health and the log.
    if (t instanceof herald.broker.Publisher.Refused) return response(StatusCodes.INSUFFICIENT_STORAGE, "E_DISK_FULL");
    if (t instanceof StatusReply.ErrorMessage e) {
      String code = e.getMessage();
      return response(code.endsWith("_NOT_FOUND") ? StatusCodes.NOT_FOUND : StatusCodes.INTERNAL_SERVER_ERROR, code);
    }
    // A publish handed to the journal that did not confirm it in time: it may be stored, so a retry
    // may store it twice (unless it has an X-Herald-Msg-Id).
    if (t instanceof herald.broker.Publisher.OutcomeUnknown) return response(StatusCodes.GATEWAY_TIMEOUT, "E_PUB_UNKNOWN");
    // A publish answered so is certainly not stored (Publisher.NotStored); another request did not
    // finish in time.
    return response(StatusCodes.SERVICE_UNAVAILABLE, "E_UNAVAILABLE");
  }
}
