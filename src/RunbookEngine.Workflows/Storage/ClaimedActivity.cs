namespace RunbookEngine.Workflows.Storage;

/// <summary>An activity step leased to a worker of its queue.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Step">The step as it is after the claim (attempt incremented).</param>
/// <param name="PreviousOwner">The worker whose lease had expired, when this claim recovers an attempt.</param>
public sealed record ClaimedActivity(string RunId, StepRecord Step, string? PreviousOwner);
