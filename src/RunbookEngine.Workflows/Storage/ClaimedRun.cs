namespace RunbookEngine.Workflows.Storage;

/// <summary>A run leased to a worker.</summary>
/// <param name="Run">The run as it is after the claim.</param>
/// <param name="PreviousOwner">The worker whose lease had expired, when this claim recovers a run.</param>
public sealed record ClaimedRun(RunRecord Run, string? PreviousOwner)
{
    /// <summary>
    /// Gets the run's history as the claim read it, in the claim's own transaction with the run's row locked (so
    /// nothing else could change the run meanwhile), when the store reads it there: the worker then needs no
    /// <see cref="IWorkflowStore.LoadHistoryAsync"/> of its own. Null when the worker is to load it.
    /// </summary>
    public RunHistory? History { get; init; }
}
