namespace RunbookEngine.Workflows.Storage;

/// <summary>The answer to a heartbeat.</summary>
/// <param name="LostRuns">Runs whose lease this worker no longer holds.</param>
/// <param name="CancelRequestedRuns">Runs still held for which cancellation was requested.</param>
/// <param name="LostActivities">Activity steps whose lease this worker no longer holds.</param>
public sealed record LeaseRenewal(
    IReadOnlyList<string> LostRuns,
    IReadOnlyList<string> CancelRequestedRuns,
    IReadOnlyList<(string RunId, int Sequence)> LostActivities);
