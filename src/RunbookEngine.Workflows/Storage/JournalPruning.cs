namespace RunbookEngine.Workflows.Storage;

/// <summary>One batch of a prune of the journal.</summary>
/// <param name="Before">Only entries received before this instant.</param>
/// <param name="Limit">The most entries removed in this batch.</param>
/// <param name="Actor">Who prunes (recorded with the prune).</param>
/// <param name="At">When (recorded with the prune).</param>
public sealed record JournalPruning(DateTimeOffset Before, int Limit, string Actor, DateTimeOffset At);
