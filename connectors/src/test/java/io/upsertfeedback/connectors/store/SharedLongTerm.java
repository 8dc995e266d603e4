package io.upsertfeedback.connectors.store;

import java.io.IOException;
import java.util.List;

/** Lets several stores of one test share a long-term tier that only the test closes. */
record SharedLongTerm(LongTermTier tier) implements LongTermTier {
    @Override
    public String newObjectName(byte[] key) {
        return tier.newObjectName(key);
    }

    @Override
    public void write(String name, byte[] data) throws IOException {
        tier.write(name, data);
    }

    @Override
    public byte[] read(String name) throws IOException {
        return tier.read(name);
    }

    @Override
    public void delete(String name) throws IOException {
        tier.delete(name);
    }

    @Override
    public List<String> list() throws IOException {
        return tier.list();
    }

    @Override
    public String describe() {
        return tier.describe();
    }

    @Override
    public void close() {}
}
