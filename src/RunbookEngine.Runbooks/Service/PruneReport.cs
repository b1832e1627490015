namespace RunbookEngine.Runbooks.Service;

/// <summary>What a prune removed (or, in a dry run, would remove).</summary>
/// <param name="Cutoff">Runs that ended, and entries received, before this instant.</param>
/// <param name="DryRun">Whether nothing was removed.</param>
/// <param name="Runs">Finished runs removed.</param>
/// <param name="Events">Their timeline events.</param>
/// <param name="JournalEntries">Journal entries removed.</param>
/// <param name="HeldByGuards">Finished runs before the cutoff kept because a guard has not yet counted their end.</param>
/// <param name="Exported">Runs exported before they were removed.</param>
/// <param name="Batches">Transactions that removed something.</param>
public sealed record PruneReport(DateTimeOffset Cutoff, bool DryRun, long Runs, long Events, long JournalEntries, long HeldByGuards, long Exported, int Batches);
