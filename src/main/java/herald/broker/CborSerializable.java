package herald.broker;

/** Marker for commands, events and snapshots serialized with Jackson CBOR (serialization.conf). */
public interface CborSerializable {}
