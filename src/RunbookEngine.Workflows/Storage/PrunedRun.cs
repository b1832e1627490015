namespace RunbookEngine.Workflows.Storage;

/// <summary>The tombstone a pruned run leaves: what it was and where its hash chain ended, so its export can be checked.</summary>
/// <param name="RunId">The run id.</param>
/// <param name="WorkflowName">The workflow (runbook) name.</param>
/// <param name="Status">How it ended.</param>
/// <param name="CreatedAt">When it was started.</param>
/// <param name="CompletedAt">When it ended.</param>
/// <param name="TimelineSequence">The sequence number of its last timeline event.</param>
/// <param name="TimelineHash">The chain hash of its last timeline event.</param>
/// <param name="PrunedAt">When it was pruned.</param>
/// <param name="PrunedBy">Who pruned it.</param>
public sealed record PrunedRun(
    string RunId,
    string WorkflowName,
    RunStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset CompletedAt,
    long TimelineSequence,
    string TimelineHash,
    DateTimeOffset PrunedAt,
    string PrunedBy);
