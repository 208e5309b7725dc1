package herald.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/** Creates the journal and snapshot tables when they are missing, before the node starts. */
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

  /** Runs the schema under an advisory lock, so nodes starting together take turns. */
  public static void ensure(String url, String user, String password) throws SQLException, IOException {
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
      c.commit();
    }
  }
}
