using System.Globalization;
using Microsoft.Data.Sqlite;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite;

/// <content>Retention: pruning finished runs and the journal in batches, each leaving an append-only record.</content>
public sealed partial class SqliteWorkflowStore
{
    /// <summary>Finished, ended before $before, and not waiting for a guard to count its end.</summary>
    private const string Prunable = "completed_at IS NOT NULL AND completed_at < $before AND status IN ('completed', 'failed', 'cancelled', 'blocked') AND (guard_key IS NULL OR guard_seen = 1)";

    private const string TombstoneColumns = "run_id, workflow, status, created_at, completed_at, timeline_seq, timeline_hash";

    /// <inheritdoc/>
    public Task<PruneCount> CountPrunableAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken) => ReadAsync(
        c =>
        {
            using var tx = c.BeginTransaction(deferred: true);
            var before = SqliteTime.ToDb(endedBefore);
            var (runs, events) = Query(c, tx, $"SELECT COUNT(*), COALESCE(SUM(timeline_seq), 0) FROM runs WHERE {Prunable}", r => (r.GetInt64(0), r.GetInt64(1)), ("$before", before))[0];
            var held = Convert.ToInt64(Scalar(c, tx, "SELECT COUNT(*) FROM runs WHERE completed_at IS NOT NULL AND completed_at < $before AND guard_key IS NOT NULL AND guard_seen = 0", ("$before", before)), CultureInfo.InvariantCulture);
            var journalEntries = Convert.ToInt64(Scalar(c, tx, "SELECT COUNT(*) FROM journal WHERE at < $before", ("$before", before)), CultureInfo.InvariantCulture);
            tx.Commit();
            return new PruneCount(runs, events, held, journalEntries);
        },
        cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<RunRecord>> ListPrunableRunsAsync(DateTimeOffset endedBefore, int limit, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<RunRecord>>(
        c => Query(c, null, $"SELECT {RunColumns} FROM runs WHERE {Prunable} ORDER BY completed_at, run_id LIMIT $n", MapRun, ("$before", SqliteTime.ToDb(endedBefore)), ("$n", Math.Max(1, limit))),
        cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<PrunedRun>> PruneRunsAsync(RunPruning pruning, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pruning);
        return WriteAsync<IReadOnlyList<PrunedRun>>(
            (c, tx) =>
            {
                var before = SqliteTime.ToDb(pruning.EndedBefore);
                var limit = Math.Max(1, pruning.Limit);
                var candidates = pruning.RunIds is { } ids
                    ? [.. ids.Take(limit).SelectMany(id => Query(c, tx, $"SELECT {TombstoneColumns} FROM runs WHERE run_id = $id AND {Prunable}", r => Tombstone(r, SqliteTime.FromDb(SqliteTime.ToDb(pruning.At)), pruning.Actor), ("$id", id), ("$before", before)))]
                    : Query(c, tx, $"SELECT {TombstoneColumns} FROM runs WHERE {Prunable} ORDER BY completed_at, run_id LIMIT $n", r => Tombstone(r, SqliteTime.FromDb(SqliteTime.ToDb(pruning.At)), pruning.Actor), ("$before", before), ("$n", limit));
                var at = SqliteTime.ToDb(pruning.At);
                foreach (var t in candidates)
                {
                    // The tombstone first: the timeline's trigger lets a run's events go only once it exists.
                    Exec(
                        c,
                        tx,
                        "INSERT INTO pruned_runs (run_id, workflow, status, created_at, completed_at, timeline_seq, timeline_hash, pruned_at, pruned_by) VALUES ($id, $w, $s, $created, $completed, $seq, $hash, $at, $by)",
                        ("$id", t.RunId),
                        ("$w", t.WorkflowName),
                        ("$s", t.Status.ToStoredName()),
                        ("$created", SqliteTime.ToDb(t.CreatedAt)),
                        ("$completed", SqliteTime.ToDb(t.CompletedAt)),
                        ("$seq", t.TimelineSequence),
                        ("$hash", t.TimelineHash),
                        ("$at", at),
                        ("$by", pruning.Actor));
                    Exec(c, tx, "DELETE FROM timeline WHERE run_id = $id", ("$id", t.RunId));
                    Exec(c, tx, "DELETE FROM steps WHERE run_id = $id", ("$id", t.RunId));
                    Exec(c, tx, "DELETE FROM signals WHERE run_id = $id", ("$id", t.RunId));
                    Exec(c, tx, "DELETE FROM runs WHERE run_id = $id", ("$id", t.RunId));
                }

                return candidates;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<int> PruneJournalAsync(JournalPruning pruning, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pruning);
        return WriteAsync(
            (c, tx) =>
            {
                var before = SqliteTime.ToDb(pruning.Before);
                var through = Scalar(c, tx, "SELECT MAX(id) FROM (SELECT id FROM journal WHERE at < $before ORDER BY id LIMIT $n)", ("$before", before), ("$n", Math.Max(1, pruning.Limit)));
                if (through is null)
                {
                    return 0;
                }

                var last = Convert.ToInt64(through, CultureInfo.InvariantCulture);
                var count = Convert.ToInt32(Scalar(c, tx, "SELECT COUNT(*) FROM journal WHERE id <= $through AND at < $before", ("$through", last), ("$before", before)), CultureInfo.InvariantCulture);
                // The record first: the journal's trigger lets entries go only at or below a recorded prune.
                Exec(
                    c,
                    tx,
                    "INSERT INTO journal_prunes (at, actor, before, through_id, count) VALUES ($at, $by, $before, $through, $count)",
                    ("$at", SqliteTime.ToDb(pruning.At)),
                    ("$by", pruning.Actor),
                    ("$before", before),
                    ("$through", last),
                    ("$count", count));
                return Exec(c, tx, "DELETE FROM journal WHERE id <= $through AND at < $before", ("$through", last), ("$before", before));
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<PrunedRun?> GetPrunedRunAsync(string runId, CancellationToken cancellationToken) => ReadAsync(
        c => Query(
            c,
            null,
            $"SELECT {TombstoneColumns}, pruned_at, pruned_by FROM pruned_runs WHERE run_id = $id",
            r => Tombstone(r, SqliteTime.FromDb(r.GetInt64(7)), r.GetString(8)),
            ("$id", runId)).FirstOrDefault(),
        cancellationToken);

    /// <summary>A tombstone from the columns of <see cref="TombstoneColumns"/> (a run's, or the stored tombstone's) and who pruned it when.</summary>
    private static PrunedRun Tombstone(SqliteDataReader r, DateTimeOffset prunedAt, string prunedBy) => new(
        r.GetString(0),
        r.GetString(1),
        RunStatusExtensions.ParseStoredName(r.GetString(2)),
        SqliteTime.FromDb(r.GetInt64(3)),
        SqliteTime.FromDb(r.GetInt64(4)),
        r.GetInt64(5),
        r.GetString(6),
        prunedAt,
        prunedBy);
}
