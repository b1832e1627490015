namespace RunbookEngine.Workflows.Storage;

/// <summary>One append-only event of a run's timeline.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Sequence">1-based position in the run's timeline, without gaps.</param>
/// <param name="At">When it happened, from the injected clock.</param>
/// <param name="Actor">Who caused it: <c>system</c>, a worker id (<c>worker:...</c>) or a user (<c>user:...</c>).</param>
/// <param name="Kind">What happened, e.g. <c>step.completed</c>.</param>
/// <param name="Data">Details as JSON text.</param>
/// <param name="Hash">SHA-256 over the previous event's hash and this event's fields (tamper evidence).</param>
public sealed record TimelineEvent(
    string RunId,
    long Sequence,
    DateTimeOffset At,
    string Actor,
    string Kind,
    string? Data,
    string Hash);
