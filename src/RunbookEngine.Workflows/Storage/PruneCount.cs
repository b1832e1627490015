namespace RunbookEngine.Workflows.Storage;

/// <summary>What a prune with a cutoff would remove.</summary>
/// <param name="Runs">Finished runs that ended before the cutoff.</param>
/// <param name="Events">Their timeline events.</param>
/// <param name="HeldByGuards">Finished runs before the cutoff kept because a guard has not yet counted their end.</param>
/// <param name="JournalEntries">Journal entries received before the cutoff.</param>
public sealed record PruneCount(long Runs, long Events, long HeldByGuards, long JournalEntries);
