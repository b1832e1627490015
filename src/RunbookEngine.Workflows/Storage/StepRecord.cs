namespace RunbookEngine.Workflows.Storage;

/// <summary>A checkpointed position in a run's history, keyed by (run id, sequence).</summary>
/// <param name="Sequence">1-based position.</param>
/// <param name="Name">The step name; replay must ask for the same name at the same position.</param>
/// <param name="Kind">What it is.</param>
/// <param name="Status">Its state.</param>
/// <param name="Attempt">The current or last attempt (1-based; 0 for an activity not yet claimed).</param>
/// <param name="Queue">The task queue of an activity.</param>
/// <param name="Activity">The activity type name.</param>
/// <param name="Input">The activity input as JSON text.</param>
/// <param name="Output">The output as JSON text.</param>
/// <param name="ErrorKind">The last error kind.</param>
/// <param name="ErrorMessage">The last error message.</param>
/// <param name="Options">The step options as JSON text (activities carry their retry policy with them).</param>
/// <param name="AvailableAt">When a retry, timer or signal deadline is due.</param>
/// <param name="StartedAt">When the first attempt started.</param>
/// <param name="CompletedAt">When it finished.</param>
/// <param name="LeaseOwner">The worker executing an activity.</param>
/// <param name="LeaseExpiresAt">When that lease expires.</param>
public sealed record StepRecord(
    int Sequence,
    string Name,
    StepKind Kind,
    StepStatus Status,
    int Attempt,
    string? Queue,
    string? Activity,
    string? Input,
    string? Output,
    string? ErrorKind,
    string? ErrorMessage,
    string? Options,
    DateTimeOffset? AvailableAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt,
    string? LeaseOwner,
    DateTimeOffset? LeaseExpiresAt);
