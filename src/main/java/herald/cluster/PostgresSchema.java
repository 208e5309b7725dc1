package herald.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/**
 * Creates the journal and snapshot tables when they are missing, and the journal's id at first
 * start, before the node starts.
 */
public final class PostgresSchema {
  public static final String RESOURCE = "herald-postgres-schema.sql";
  private static final long LOCK_KEY = 4151;

  private PostgresSchema() {}

  public static String sql() throws IOException {
    try (InputStream in = PostgresSchema.class.getClassLoader().getResourceAsStream(RESOURCE)) {
      if (in == null) throw new IOException(RESOURCE + " is missing from the class path");
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /** Runs the schema under an advisory lock, so nodes starting together take turns (and agree on one id). */
  public static JournalIdentity ensure(String url, String user, String password) throws SQLException, IOException {
    String sql = sql();
    try (Connection c = DriverManager.getConnection(url, user, password)) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.execute("SELECT pg_advisory_xact_lock(" + LOCK_KEY + ")");
        for (String statement : sql.split(";")) {
          String body = statement.lines().filter(l -> !l.strip().startsWith("--")).reduce("", (a, b) -> a + "\n" + b).strip();
          if (!body.isEmpty()) s.execute(body);
        }
      }
      try (PreparedStatement insert = c.prepareStatement(
          "INSERT INTO herald_journal (id) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM herald_journal)")) {
        insert.setString(1, UUID.randomUUID().toString());
        insert.executeUpdate();
      }
      c.commit();
      c.setAutoCommit(true);
      return JournalIdentity.read(c);
    }
  }
}
