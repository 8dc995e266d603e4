package io.upsertfeedback.connectors.feedback;

import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;

import java.util.List;

/**
 * Hands the one {@link FeedbackSplit} to the first reader that registers and tells every reader
 * there is nothing more; a split given back after a reader failure goes to the reader that registers
 * next (the restarted one: the others may have finished). Its checkpoint is the split it still
 * holds ({@code null} once assigned: then the reader's state has it).
 */
final class FeedbackEnumerator implements SplitEnumerator<FeedbackSplit, FeedbackSplit> {
    private final SplitEnumeratorContext<FeedbackSplit> context;
    private FeedbackSplit unassigned;

    FeedbackEnumerator(SplitEnumeratorContext<FeedbackSplit> context, FeedbackSplit unassigned) {
        this.context = context;
        this.unassigned = unassigned;
    }

    @Override
    public void start() {}

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {}

    @Override
    public void addSplitsBack(List<FeedbackSplit> splits, int subtaskId) {
        if (splits.isEmpty()) {
            return; // a reset subtask that held no split since the last checkpoint
        }
        unassigned = splits.get(0); // handed out again when the restarted reader registers (addReader)
    }

    @Override
    public void addReader(int subtaskId) {
        if (unassigned != null) {
            context.assignSplit(unassigned, subtaskId);
            unassigned = null;
        }
        context.signalNoMoreSplits(subtaskId);
    }

    @Override
    public FeedbackSplit snapshotState(long checkpointId) {
        return unassigned;
    }

    @Override
    public void close() {}
}
