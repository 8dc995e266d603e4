package io.upsertfeedback.connectors.store;

import io.upsertfeedback.operators.UpsertValue;
import io.upsertfeedback.schemas.StoredValueMeta;

/** One live key of the store with its decoded value (an error value stays an error value) and metadata. */
public record StoredEntry(byte[] key, UpsertValue value, StoredValueMeta meta) {}
