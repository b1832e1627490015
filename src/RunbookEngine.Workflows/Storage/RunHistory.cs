namespace RunbookEngine.Workflows.Storage;

/// <summary>Everything a worker needs to replay a run.</summary>
/// <param name="Run">The run.</param>
/// <param name="Steps">Its recorded steps in sequence order.</param>
/// <param name="PendingSignals">Signals not yet consumed, in arrival order.</param>
public sealed record RunHistory(RunRecord Run, IReadOnlyList<StepRecord> Steps, IReadOnlyList<SignalRecord> PendingSignals);
