package herald.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Which PostgreSQL journal a node writes to: the id Herald stores in it at first start, the
 * database's name and the server's system identifier. Every node of a cluster must name the same
 * one, or a topic that moves to it would write where the others never read.
 */
public record JournalIdentity(String id, String database, String system) {
  /** Set at start from the journal (not by hand), so the join check can compare it. */
  public static final String KEY = "herald.journal-identity";

  public static JournalIdentity of(Config config) {
    Config c = config.getConfig(KEY);
    return new JournalIdentity(c.getString("id"), c.getString("database"), c.getString("system"));
  }

  /** Reads the identity; the id row must exist (see {@link PostgresSchema#ensure}). */
  static JournalIdentity read(Connection c) throws SQLException {
    String id;
    String database;
    try (Statement s = c.createStatement();
         ResultSet r = s.executeQuery("SELECT (SELECT id FROM herald_journal LIMIT 1), current_database()")) {
      r.next();
      id = r.getString(1);
      database = r.getString(2);
    }
    return new JournalIdentity(id, database, systemIdentifier(c));
  }

  /** Empty when this user may not read it (some hosted PostgreSQL services); the id still tells. */
  private static String systemIdentifier(Connection c) {
    try (Statement s = c.createStatement();
         ResultSet r = s.executeQuery("SELECT system_identifier FROM pg_control_system()")) {
      return r.next() ? r.getString(1) : "";
    } catch (SQLException e) {
      return "";
    }
  }

  public boolean sameAs(JournalIdentity other) {
    boolean systemsAgree = system.isEmpty() || other.system.isEmpty() || system.equals(other.system);
    return id.equals(other.id) && database.equals(other.database) && systemsAgree;
  }

  /** The role every member on this journal has: the shards of its topics only go to such members. */
  public String role() {
    return "journal=" + id;
  }

  /**
   * The node's config with this identity in it, the role added, and sharding limited to that role:
   * even a member that got in some other way would never be given a shard.
   */
  public Config addTo(Config config) {
    List<String> roles = new ArrayList<>(config.getStringList("pekko.cluster.roles"));
    roles.add(role());
    return config
        .withValue(KEY + ".id", ConfigValueFactory.fromAnyRef(id))
        .withValue(KEY + ".database", ConfigValueFactory.fromAnyRef(database))
        .withValue(KEY + ".system", ConfigValueFactory.fromAnyRef(system))
        .withValue("pekko.cluster.roles", ConfigValueFactory.fromIterable(roles))
        .withValue("pekko.cluster.sharding.role", ConfigValueFactory.fromAnyRef(role()));
  }

  @Override
  public String toString() {
    return "database " + database + " (system identifier " + (system.isEmpty() ? "unknown" : system)
        + ", journal id " + id + ")";
  }
}
