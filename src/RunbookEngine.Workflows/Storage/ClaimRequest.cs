namespace RunbookEngine.Workflows.Storage;

/// <summary>A worker's request for work.</summary>
/// <param name="WorkerId">The claiming worker.</param>
/// <param name="Queues">The task queues it serves.</param>
/// <param name="MaxCount">The most items to claim.</param>
/// <param name="Now">The current time.</param>
/// <param name="LeaseDuration">How long the lease lasts unless renewed.</param>
public sealed record ClaimRequest(string WorkerId, IReadOnlyList<string> Queues, int MaxCount, DateTimeOffset Now, TimeSpan LeaseDuration);
