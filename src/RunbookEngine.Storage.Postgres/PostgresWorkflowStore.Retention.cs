using System.Data;
using Npgsql;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres;

/// <content>Retention: pruning finished runs and the journal in batches, each leaving an append-only record.</content>
public sealed partial class PostgresWorkflowStore
{
    /// <summary>Finished, ended before @before, and not waiting for a guard to count its end.</summary>
    private const string Prunable = "completed_at IS NOT NULL AND completed_at < @before AND status IN ('completed', 'failed', 'cancelled', 'blocked') AND (guard_key IS NULL OR guard_seen)";

    /// <inheritdoc/>
    public Task<PruneCount> CountPrunableAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken) => ReadAsync(
        async db =>
        {
            var rows = await db.QueryAsync(
                $"""
                SELECT (SELECT COUNT(*) FROM runs WHERE {Prunable}),
                       (SELECT COALESCE(SUM(timeline_seq), 0)::bigint FROM runs WHERE {Prunable}),
                       (SELECT COUNT(*) FROM runs WHERE completed_at IS NOT NULL AND completed_at < @before AND guard_key IS NOT NULL AND NOT guard_seen),
                       (SELECT COUNT(*) FROM journal WHERE at < @before)
                """,
                r => new PruneCount(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3)),
                Db.P("before", endedBefore)).ConfigureAwait(false);
            return rows[0];
        },
        cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<RunRecord>> ListPrunableRunsAsync(DateTimeOffset endedBefore, int limit, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<RunRecord>>(
        async db => await db.QueryAsync(
            $"{RunSelect} WHERE r.run_id IN (SELECT run_id FROM runs WHERE {Prunable} ORDER BY completed_at, run_id LIMIT @n) ORDER BY r.completed_at, r.run_id",
            MapRun,
            Db.P("before", endedBefore),
            Db.P("n", Math.Max(1, limit))).ConfigureAwait(false),
        cancellationToken);

    /// <inheritdoc/>
    public async Task<IReadOnlyList<PrunedRun>> PruneRunsAsync(RunPruning pruning, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pruning);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        var (pruned, refs) = await InTransactionAsync(
            async db =>
            {
                // SKIP LOCKED: a run a client is signalling or annotating right now is left for the next batch.
                var only = pruning.RunIds is null ? string.Empty : " AND run_id = ANY(@ids)";
                var ps = new List<NpgsqlParameter> { Db.P("before", pruning.EndedBefore), Db.P("n", Math.Max(1, pruning.Limit)) };
                if (pruning.RunIds is { } given)
                {
                    ps.Add(Db.P("ids", given.ToArray()));
                }

                var tombstones = await db.QueryAsync(
                    $"SELECT run_id, workflow, status, created_at, completed_at, timeline_seq, timeline_hash FROM runs WHERE {Prunable}{only} ORDER BY completed_at, run_id LIMIT @n FOR UPDATE SKIP LOCKED",
                    r => new PrunedRun(r.GetString(0), r.GetString(1), RunStatusExtensions.ParseStoredName(r.GetString(2)), Time(r, 3), Time(r, 4), r.GetInt64(5), r.GetString(6), PgTime.ToDb(pruning.At), pruning.Actor),
                    [.. ps]).ConfigureAwait(false);
                var payloadRefs = new HashSet<string>(StringComparer.Ordinal);
                if (tombstones.Count == 0)
                {
                    return (tombstones, payloadRefs);
                }

                var ids = Db.P("ids", tombstones.Select(t => t.RunId).ToArray());
                // The tombstones first: the timeline's trigger lets a run's events go only once its tombstone exists.
                await db.ExecAsync(
                    "INSERT INTO pruned_runs (run_id, workflow, status, created_at, completed_at, timeline_seq, timeline_hash, pruned_at, pruned_by) SELECT run_id, workflow, status, created_at, completed_at, timeline_seq, timeline_hash, @at, @by FROM runs WHERE run_id = ANY(@ids)",
                    ids,
                    Db.P("at", pruning.At),
                    Db.P("by", pruning.Actor)).ConfigureAwait(false);
                await db.ExecAsync("DELETE FROM timeline WHERE run_id = ANY(@ids)", Db.P("ids", tombstones.Select(t => t.RunId).ToArray())).ConfigureAwait(false);
                await db.ExecAsync("DELETE FROM signals WHERE run_id = ANY(@ids)", Db.P("ids", tombstones.Select(t => t.RunId).ToArray())).ConfigureAwait(false);
                foreach (var table in (string[])["steps", "runs"])
                {
                    var refRows = await db.QueryAsync(
                        $"DELETE FROM {table} WHERE run_id = ANY(@ids) RETURNING input_ref, output_ref",
                        r => (Str(r, 0), Str(r, 1)),
                        Db.P("ids", tombstones.Select(t => t.RunId).ToArray())).ConfigureAwait(false);
                    foreach (var (input, output) in refRows)
                    {
                        if (input is not null)
                        {
                            payloadRefs.Add(input);
                        }

                        if (output is not null)
                        {
                            payloadRefs.Add(output);
                        }
                    }
                }

                return (tombstones, payloadRefs);
            },
            cancellationToken).ConfigureAwait(false);

        if (refs.Count > 0)
        {
            await SweepPayloadsAsync([.. refs], cancellationToken).ConfigureAwait(false);
        }

        return pruned;
    }

    /// <inheritdoc/>
    public Task<int> PruneJournalAsync(JournalPruning pruning, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pruning);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        return InTransactionAsync(
            async db =>
            {
                var through = await db.ScalarAsync("SELECT MAX(id) FROM (SELECT id FROM journal WHERE at < @before ORDER BY id LIMIT @n) j", Db.P("before", pruning.Before), Db.P("n", Math.Max(1, pruning.Limit))).ConfigureAwait(false);
                if (through is not long last)
                {
                    return 0;
                }

                var count = Convert.ToInt32(await db.ScalarAsync("SELECT COUNT(*) FROM journal WHERE id <= @through AND at < @before", Db.P("through", last), Db.P("before", pruning.Before)).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
                // The record first: the journal's trigger lets entries go only at or below a recorded prune.
                await db.ExecAsync(
                    "INSERT INTO journal_prunes (at, actor, before, through_id, count) VALUES (@at, @by, @before, @through, @count)",
                    Db.P("at", pruning.At),
                    Db.P("by", pruning.Actor),
                    Db.P("before", pruning.Before),
                    Db.P("through", last),
                    Db.P("count", count)).ConfigureAwait(false);
                return await db.ExecAsync("DELETE FROM journal WHERE id <= @through AND at < @before", Db.P("through", last), Db.P("before", pruning.Before)).ConfigureAwait(false);
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<PrunedRun?> GetPrunedRunAsync(string runId, CancellationToken cancellationToken) => ReadAsync(
        async db => (await db.QueryAsync(
            "SELECT run_id, workflow, status, created_at, completed_at, timeline_seq, timeline_hash, pruned_at, pruned_by FROM pruned_runs WHERE run_id = @id",
            r => new PrunedRun(r.GetString(0), r.GetString(1), RunStatusExtensions.ParseStoredName(r.GetString(2)), Time(r, 3), Time(r, 4), r.GetInt64(5), r.GetString(6), Time(r, 7), r.GetString(8)),
            Db.P("id", runId)).ConfigureAwait(false)).FirstOrDefault(),
        cancellationToken);

    /// <summary>
    /// Removes the payloads the pruned rows referenced that nothing else references. Payloads are shared by content
    /// hash and a writer inserts one (or finds it there) before the row that references it, in the same transaction:
    /// the table lock waits for every such writer in flight to commit, so a reference being written is seen, and
    /// holds new ones back only for this one statement. Its own transaction holds no other lock, so it cannot
    /// deadlock with a writer; a crash before it leaves those payloads behind, unreferenced and harmless.
    /// </summary>
    private Task<int> SweepPayloadsAsync(string[] hashes, CancellationToken cancellationToken) => InTransactionAsync(
        async db =>
        {
            await db.ExecAsync("SET LOCAL lock_timeout = '5s'").ConfigureAwait(false);
            await db.ExecAsync("LOCK TABLE payloads IN SHARE ROW EXCLUSIVE MODE").ConfigureAwait(false);
            return await db.ExecAsync(
                """
                DELETE FROM payloads p WHERE p.hash = ANY(@h)
                  AND NOT EXISTS (SELECT 1 FROM runs WHERE input_ref = p.hash)
                  AND NOT EXISTS (SELECT 1 FROM runs WHERE output_ref = p.hash)
                  AND NOT EXISTS (SELECT 1 FROM steps WHERE input_ref = p.hash)
                  AND NOT EXISTS (SELECT 1 FROM steps WHERE output_ref = p.hash)
                """,
                Db.P("h", hashes)).ConfigureAwait(false);
        },
        cancellationToken);

    /// <summary>One transaction of its own, outside the writer's batches (a prune batch must not delay workers' commits), retried while the database is unreachable.</summary>
    private Task<T> InTransactionAsync<T>(Func<Db, Task<T>> work, CancellationToken cancellationToken) => WithRetryAsync(
        async () =>
        {
            var db = await Db.OpenAsync(dataSource, IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
            await using (db.ConfigureAwait(false))
            {
                var result = await work(db).ConfigureAwait(false);
                await db.Transaction!.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
        },
        cancellationToken);
}
