namespace RunbookEngine.Workflows.Storage;

/// <summary>A run as stored.</summary>
/// <param name="RunId">The run id.</param>
/// <param name="WorkflowName">The workflow name.</param>
/// <param name="DefinitionHash">The pinned definition's hash.</param>
/// <param name="Queue">The task queue whose workers execute the workflow code.</param>
/// <param name="Status">The status.</param>
/// <param name="IdempotencyKey">The caller's idempotency key, if any.</param>
/// <param name="Input">The input as JSON text.</param>
/// <param name="Output">The output as JSON text, once completed.</param>
/// <param name="ErrorKind">The error kind, once failed.</param>
/// <param name="ErrorMessage">The error message, once failed or cancelled.</param>
/// <param name="CreatedBy">Who started it.</param>
/// <param name="CreatedAt">When it was started.</param>
/// <param name="UpdatedAt">When it last changed.</param>
/// <param name="CompletedAt">When it reached a terminal status.</param>
/// <param name="AvailableAt">When a waiting or ready run becomes claimable; null while waiting with no deadline.</param>
/// <param name="LeaseOwner">The worker holding the lease, while running.</param>
/// <param name="LeaseExpiresAt">When the lease expires unless renewed.</param>
/// <param name="CancelRequested">Whether cancellation was requested.</param>
/// <param name="CancelRequestedBy">Who asked to cancel, if anyone.</param>
/// <param name="CancelReason">The reason given for cancelling.</param>
/// <param name="WakeCount">Incremented by every external event (signal, activity outcome, cancel request).</param>
public sealed record RunRecord(
    string RunId,
    string WorkflowName,
    string DefinitionHash,
    string Queue,
    RunStatus Status,
    string? IdempotencyKey,
    string? Input,
    string? Output,
    string? ErrorKind,
    string? ErrorMessage,
    string CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? CompletedAt,
    DateTimeOffset? AvailableAt,
    string? LeaseOwner,
    DateTimeOffset? LeaseExpiresAt,
    bool CancelRequested,
    string? CancelRequestedBy,
    string? CancelReason,
    long WakeCount)
{
    /// <summary>Gets the W3C traceparent of the run's trace, recorded when it was started (null for runs stored before it was).</summary>
    public string? TraceParent { get; init; }
}
