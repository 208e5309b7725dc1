package herald.cluster;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The SQL an operator reads in deploy/ is the SQL every node runs at start-up: deploy/postgres-schema.sql
 * is a link to the resource, and a copy put in its place would have to match.
 */
class PostgresSchemaTest {
  @Test
  void deployCopyMatchesWhatTheNodeRuns() throws Exception {
    assertEquals(PostgresSchema.sql(), Files.readString(Path.of("deploy/postgres-schema.sql")));
  }
}
