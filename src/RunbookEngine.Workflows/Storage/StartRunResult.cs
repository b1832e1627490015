namespace RunbookEngine.Workflows.Storage;

/// <summary>The outcome of starting a run.</summary>
/// <param name="Run">The run (the existing one when the key or id was already used).</param>
/// <param name="Created">Whether this call created it.</param>
public sealed record StartRunResult(RunRecord Run, bool Created);
