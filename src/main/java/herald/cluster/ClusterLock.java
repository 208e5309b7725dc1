package herald.cluster;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

/**
 * One cluster per PostgreSQL journal. Every member holds a shared advisory lock on the journal's
 * database for as long as it runs; a node may form a new cluster only while it can take that lock
 * exclusively, that is while no member of any cluster on this journal runs. Pekko's first seed
 * forms a cluster when no other seed answers it within seed-node-timeout: restarted while the
 * other members were slow to answer (a loaded machine, a pause), it formed a second cluster on the
 * same journal, each with its own copy of the topics (docs/operations.md, "One cluster per journal").
 *
 * The lock lives in a session of its own. A member that dies releases it when PostgreSQL sees the
 * connection go: at once for a process that exits, within about 15 s (TCP keepalives) for a host
 * that vanishes.
 */
public final class ClusterLock implements AutoCloseable {
  /** PostgresSchema's start-up lock is 4151. */
  private static final long KEY = 4152;

  private final String url;
  private final Properties login = new Properties();
  private Connection session;
  private boolean forming;
  private boolean member;

  public ClusterLock(String url, String user, String password) {
    this.url = url;
    login.setProperty("user", user);
    login.setProperty("password", password);
    login.setProperty("ApplicationName", "herald cluster lock");
    login.setProperty("tcpKeepAlive", "true");
    // A link that stops answering fails a call instead of holding the lock's one thread for good.
    login.setProperty("connectTimeout", "5");
    login.setProperty("loginTimeout", "5");
    login.setProperty("socketTimeout", "10");
  }

  /** Takes the lock exclusively if no member of any cluster on this journal holds it: then this node may form one. */
  public synchronized boolean tryToForm() throws SQLException {
    if (!forming) forming = ask("SELECT pg_try_advisory_lock(" + KEY + ")");
    return forming;
  }

  /**
   * Holds the lock shared, as a member: called again and again while the node runs, it takes the
   * lock again on a new session when the last one was lost (PostgreSQL restarted, a cut link).
   */
  public synchronized void holdAsMember() throws SQLException {
    if (member && session.isValid(2)) return;
    member = ask("SELECT pg_try_advisory_lock_shared(" + KEY + ")");
    // A session's own locks never conflict: the shared hold is taken before the exclusive one goes.
    if (member && forming) forming = !ask("SELECT pg_advisory_unlock(" + KEY + ")");
  }

  private boolean ask(String sql) throws SQLException {
    if (session == null || !session.isValid(2)) open();
    try (Statement s = session.createStatement(); ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getBoolean(1);
    }
  }

  private void open() throws SQLException {
    close();
    forming = false;
    member = false;
    session = DriverManager.getConnection(url, login);
    try (Statement s = session.createStatement()) {
      // PostgreSQL's side of the keepalives: a vanished host's session (and its hold) ends in ~15 s, not hours.
      s.execute("SET tcp_keepalives_idle = 5");
      s.execute("SET tcp_keepalives_interval = 2");
      s.execute("SET tcp_keepalives_count = 5");
    }
  }

  @Override
  public synchronized void close() {
    if (session == null) return;
    try {
      session.close();
    } catch (SQLException ignored) {
      // The session is gone either way, and its locks with it.
    }
    session = null;
  }
}
