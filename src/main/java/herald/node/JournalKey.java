package herald.node;

import org.apache.pekko.persistence.journal.leveldb.Key;

/**
 * A key of Pekko's LevelDB journal, read with Pekko's own codec (so the check and the tests read the
 * layout the journal writes, not a copy of it): persistence id number, sequence number, mapping id.
 * Id 1 is the table of persistence ids (the mapping id is the number a name gets); from 10 on, an
 * entity's events, sequence number 0 being its counter. Id 0 is Herald's own: what a repair
 * reported lost, per entity (JournalCheck).
 */
public record JournalKey(int persistenceId, long sequenceNr, int mappingId) {
  /** Pekko's keys are longer; anything shorter is not one of them. */
  private static final int FIELDS = 16;

  /** Null for bytes too short to be one of Pekko's keys. */
  public static JournalKey read(byte[] key) {
    if (key.length < FIELDS) return null;
    Key k = Key.keyFromBytes(key);
    return new JournalKey(k.persistenceId(), k.sequenceNr(), k.mappingId());
  }

  public byte[] bytes() {
    return Key.keyToBytes(new Key(persistenceId, sequenceNr, mappingId));
  }

  /** An entry of the table of persistence ids: its value is the name of entity {@code mappingId}. */
  public boolean isIdTableEntry() {
    return persistenceId == 1;
  }

  /** One of an entity's events (not its counter, not a deletion marker of Pekko's older layout). */
  public boolean isEvent() {
    return persistenceId >= 10 && sequenceNr > 0 && mappingId == 0;
  }
}
