package io.upsertfeedback.bench.kafka;

/**
 * An order-independent fingerprint of a key-value collection: the number of entries and the sum
 * (mod 2^64) of a 64-bit hash of each entry's key and value bytes. Two collections with the same
 * digest hold the same entries but for a hash collision; a missing, extra or changed entry changes
 * it. A store scanned in any order is checked against {@link Workload#digest} with it.
 */
public final class CollectionDigest {
    private static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

    private long entries;
    private long sum;

    /** Adds one entry. */
    public void add(byte[] key, byte[] value) {
        long h = FNV_OFFSET;
        for (byte b : key) {
            h = (h ^ (b & 0xff)) * FNV_PRIME;
        }
        h = (h ^ 0x100) * FNV_PRIME; // a separator no byte can be: (k, v) and (k + v[0], v[1..]) differ
        for (byte b : value) {
            h = (h ^ (b & 0xff)) * FNV_PRIME;
        }
        // SplitMix64's finalizer spreads FNV's weak low bits before the sum
        h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
        h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
        sum += h ^ (h >>> 31);
        entries++;
    }

    public long entries() {
        return entries;
    }

    /** The hash sum, as a hexadecimal string (what a contender reports). */
    public String hash() {
        return Long.toHexString(sum);
    }
}
