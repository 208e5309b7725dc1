package herald.broker;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.Arrays;

/**
 * Where stretches of a topic's journal begin: for a journal write holding messages, its sequence
 * number, its first offset, its first message's publish time and the bytes the topic stored before
 * it. Retention reads the time and bytes to find what it may delete; replay reads them to find
 * where to start without reading the whole journal (it reads one stretch at most).
 *
 * <p>A mark is made every {@code spacing} writes or {@code spacingMs} of publish time. Bounded: past
 * {@link #MAX} marks every other one goes and the spacing doubles, so the marks cover any journal
 * with a precision that falls as it grows. Part of the topic's state (and snapshot), so it survives
 * restarts and moves; changed in place by the event handler, like StoredIds, and copied for a snapshot.
 */
public final class JournalMarks {
  static final int MAX = 2048;
  static final long FIRST_SPACING = 100;
  static final long FIRST_SPACING_MS = 1000;

  private long[] seqNr;
  private long[] offset;
  private long[] time;
  private long[] bytesBefore;
  private int size;
  private long spacing;
  private long spacingMs;

  public JournalMarks() {
    this(new long[0], new long[0], new long[0], new long[0], FIRST_SPACING, FIRST_SPACING_MS);
  }

  @JsonCreator
  JournalMarks(@JsonProperty("seqNr") long[] seqNr, @JsonProperty("offset") long[] offset,
               @JsonProperty("time") long[] time, @JsonProperty("bytesBefore") long[] bytesBefore,
               @JsonProperty("spacing") long spacing, @JsonProperty("spacingMs") long spacingMs) {
    this.size = seqNr.length;
    int room = Math.max(16, size);
    this.seqNr = Arrays.copyOf(seqNr, room);
    this.offset = Arrays.copyOf(offset, room);
    this.time = Arrays.copyOf(time, room);
    this.bytesBefore = Arrays.copyOf(bytesBefore, room);
    this.spacing = spacing;
    this.spacingMs = spacingMs;
  }

  /** Notes a journal write of messages. Deterministic in its arguments, so replaying writes gives the same marks. */
  public void written(long writeSeqNr, long firstOffset, long firstTime, long bytesBefore) {
    if (size > 0 && writeSeqNr - seqNr[size - 1] < spacing && firstTime - time[size - 1] < spacingMs) return;
    if (size == seqNr.length) grow();
    seqNr[size] = writeSeqNr;
    offset[size] = firstOffset;
    time[size] = firstTime;
    this.bytesBefore[size] = bytesBefore;
    size++;
    if (size > MAX) thin();
  }

  /** Forgets the marks of stretches that lie wholly at or below {@code deletedTo}. */
  public void deleted(long deletedTo) {
    int gone = 0;
    while (gone + 1 < size && seqNr[gone + 1] <= deletedTo + 1) gone++;
    if (gone == 0) return;
    shift(gone);
  }

  /**
   * The first journal write that retention keeps, or {@link Long#MAX_VALUE} when it keeps nothing
   * (both limits 0). A message is kept while it is younger than {@code keepMs} and among the last
   * {@code keepBytes} stored, for each limit that is not 0; only whole stretches go.
   */
  public long keptFrom(long now, long keepMs, long keepBytes, long bytesNow) {
    if (keepMs <= 0 && keepBytes <= 0) return Long.MAX_VALUE;
    long from = size == 0 ? Long.MAX_VALUE : seqNr[0];
    // Everything before mark i is at most as new as its first message, and all of it is beyond the
    // bytes kept when mark i onwards already hold them.
    for (int i = size - 1; i >= 0; i--) {
      boolean old = keepMs > 0 && time[i] <= now - keepMs;
      boolean beyond = keepBytes > 0 && bytesNow - bytesBefore[i] >= keepBytes;
      if (old || beyond) {
        from = seqNr[i];
        break;
      }
    }
    return from;
  }

  /** The journal write to read from to find the first message at or after {@code at} (unix ms): 0 for the start. */
  public long seqNrBeforeTime(long at) {
    long from = 0;
    for (int i = 0; i < size && time[i] <= at; i++) from = seqNr[i];
    return from;
  }

  /** The journal write to read from to find the message at {@code position}: 0 for the start. */
  public long seqNrBeforeOffset(long position) {
    long from = 0;
    for (int i = 0; i < size && offset[i] <= position; i++) from = seqNr[i];
    return from;
  }

  /** The first mark's journal write: nothing of this topic's messages lies before it. 0 for none. */
  public long firstSeqNr() {
    return size == 0 ? 0 : seqNr[0];
  }

  public int size() {
    return size;
  }

  private void grow() {
    int room = seqNr.length * 2;
    seqNr = Arrays.copyOf(seqNr, room);
    offset = Arrays.copyOf(offset, room);
    time = Arrays.copyOf(time, room);
    bytesBefore = Arrays.copyOf(bytesBefore, room);
  }

  private void thin() {
    int kept = 0;
    for (int i = 0; i < size; i += 2, kept++) {
      seqNr[kept] = seqNr[i];
      offset[kept] = offset[i];
      time[kept] = time[i];
      bytesBefore[kept] = bytesBefore[i];
    }
    size = kept;
    spacing *= 2;
    spacingMs *= 2;
  }

  private void shift(int gone) {
    System.arraycopy(seqNr, gone, seqNr, 0, size - gone);
    System.arraycopy(offset, gone, offset, 0, size - gone);
    System.arraycopy(time, gone, time, 0, size - gone);
    System.arraycopy(bytesBefore, gone, bytesBefore, 0, size - gone);
    size -= gone;
  }

  @JsonProperty("seqNr")
  long[] seqNrs() {
    return Arrays.copyOf(seqNr, size);
  }

  @JsonProperty("offset")
  long[] offsets() {
    return Arrays.copyOf(offset, size);
  }

  @JsonProperty("time")
  long[] times() {
    return Arrays.copyOf(time, size);
  }

  @JsonProperty("bytesBefore")
  long[] bytesBefores() {
    return Arrays.copyOf(bytesBefore, size);
  }

  @JsonProperty("spacing")
  long spacing() {
    return spacing;
  }

  @JsonProperty("spacingMs")
  long spacingMs() {
    return spacingMs;
  }

  /** An independent copy, for a snapshot that is serialized while the topic goes on. */
  public JournalMarks copy() {
    return new JournalMarks(seqNrs(), offsets(), times(), bytesBefores(), spacing, spacingMs);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof JournalMarks m && Arrays.equals(seqNrs(), m.seqNrs()) && Arrays.equals(offsets(), m.offsets())
        && Arrays.equals(times(), m.times()) && Arrays.equals(bytesBefores(), m.bytesBefores())
        && spacing == m.spacing && spacingMs == m.spacingMs;
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(seqNrs());
  }

  @Override
  public String toString() {
    return "JournalMarks(" + size + " marks, every " + spacing + " writes or " + spacingMs + " ms)";
  }
}
