package io.upsertfeedback.connectors.store;

/** A row of the high-volume tier as a scan sees it: the key and its (undecoded) state. */
public record StoredRow(byte[] key, RowState state) {}
