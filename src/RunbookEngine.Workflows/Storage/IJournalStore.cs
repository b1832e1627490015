namespace RunbookEngine.Workflows.Storage;

/// <summary>The journal of what was received for no run (alerts that matched no runbook, invalid payloads).</summary>
public interface IJournalStore
{
    /// <summary>Appends entries to the journal of what was received for no run, in one transaction.</summary>
    /// <param name="entries">The entries.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task completed when they are durable.</returns>
    Task AppendJournalAsync(IReadOnlyList<NewJournalEntry> entries, CancellationToken cancellationToken);

    /// <summary>Lists journal entries, newest first.</summary>
    /// <param name="query">The filter.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The entries.</returns>
    Task<IReadOnlyList<JournalEntry>> ListJournalAsync(JournalQuery query, CancellationToken cancellationToken);
}
