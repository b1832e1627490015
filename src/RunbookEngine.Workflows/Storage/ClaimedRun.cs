namespace RunbookEngine.Workflows.Storage;

/// <summary>A run leased to a worker.</summary>
/// <param name="Run">The run as it is after the claim.</param>
/// <param name="PreviousOwner">The worker whose lease had expired, when this claim recovers a run.</param>
public sealed record ClaimedRun(RunRecord Run, string? PreviousOwner);
