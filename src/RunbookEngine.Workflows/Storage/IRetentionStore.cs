namespace RunbookEngine.Workflows.Storage;

/// <summary>
/// Keeping the store bounded: finished runs and journal entries older than a cutoff are removed in small batches,
/// each leaving an append-only record of what was removed, by whom and when.
/// </summary>
/// <remarks>
/// The timeline and the journal are append-only: the store refuses to delete a timeline event unless its run has a
/// tombstone in <c>pruned_runs</c> (written in the same transaction, with the run's last sequence number and chain
/// hash), and a journal entry unless a <c>journal_prunes</c> record covers it. A run is pruned whole (run, steps,
/// signals, timeline), so the hash chains of the runs kept still verify. Runs whose end a guard has not yet folded
/// into its state are kept (forgetting them would forget a failure the breaker has still to count).
/// </remarks>
public interface IRetentionStore
{
    /// <summary>Counts what a prune with this cutoff would remove, and what it would keep because a guard still counts it.</summary>
    /// <param name="endedBefore">Runs that ended, and journal entries received, before this instant.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The counts.</returns>
    Task<PruneCount> CountPrunableAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken);

    /// <summary>Lists the runs a prune with this cutoff would remove, those that ended first first.</summary>
    /// <param name="endedBefore">Runs that ended before this instant.</param>
    /// <param name="limit">The most runs returned.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The runs.</returns>
    Task<IReadOnlyList<RunRecord>> ListPrunableRunsAsync(DateTimeOffset endedBefore, int limit, CancellationToken cancellationToken);

    /// <summary>Removes one batch of finished runs in one transaction, leaving a tombstone for each.</summary>
    /// <param name="pruning">Which runs.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The tombstones written (empty when nothing was left to prune).</returns>
    Task<IReadOnlyList<PrunedRun>> PruneRunsAsync(RunPruning pruning, CancellationToken cancellationToken);

    /// <summary>Removes one batch of journal entries in one transaction, recording the prune.</summary>
    /// <param name="pruning">Which entries.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>How many entries were removed (0 when nothing was left).</returns>
    Task<int> PruneJournalAsync(JournalPruning pruning, CancellationToken cancellationToken);

    /// <summary>Reads the tombstone of a pruned run.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The tombstone, or null if the run was never pruned.</returns>
    Task<PrunedRun?> GetPrunedRunAsync(string runId, CancellationToken cancellationToken);
}
