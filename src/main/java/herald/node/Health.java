package herald.node;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Why a node is not fully well, in nsqd's words for /stats: "OK", or "NOK - " and the reasons
 * (publishes refused for lack of disk space, a journal repaired with messages lost, a journal that does not answer).
 */
public final class Health {
  private final String journalReport;
  private final Supplier<String> disk;
  private final Supplier<String> journalLink;

  Health(String journalReport, Supplier<String> disk, Supplier<String> journalLink) {
    this.journalReport = journalReport;
    this.disk = disk;
    this.journalLink = journalLink;
  }

  public String status() {
    List<String> problems = new ArrayList<>();
    String d = disk.get();
    if (d != null) problems.add(d);
    if (journalReport != null) problems.add(journalReport);
    String j = journalLink.get();
    if (j != null) problems.add(j);
    return problems.isEmpty() ? "OK" : "NOK - " + String.join("; ", problems);
  }
}
