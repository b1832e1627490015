using Microsoft.Data.Sqlite;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite;

/// <content>Guards: admission decided under the write lock, listing and resets.</content>
public sealed partial class SqliteWorkflowStore
{
    private const string GuardRunColumns = "run_id, status, created_at, completed_at, error_kind, (SELECT COUNT(*) FROM steps s WHERE s.run_id = runs.run_id AND s.status = 'failed') AS failed_steps";

    // The guard ledger: runs another engine (Temporal) runs, admitted here so that guards count them too.
    private const string ExternalColumns = "run_id, status, created_at, completed_at, error_kind, failed_steps";

    /// <inheritdoc/>
    public Task<IReadOnlyList<GuardRecord>> ListGuardsAsync(string? key, int limit, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<GuardRecord>>(
        c =>
        {
            using var tx = c.BeginTransaction(deferred: true);
            var keys = key is null
                ? Query(c, tx, "SELECT key, state, updated_at FROM guards ORDER BY updated_at DESC, key LIMIT $n", MapGuardRow, ("$n", Math.Max(1, limit)))
                : Query(c, tx, "SELECT key, state, updated_at FROM guards WHERE key = $k", MapGuardRow, ("$k", key));
            var list = keys.Select(g => new GuardRecord(g.Key, g.State, g.UpdatedAt, GuardRuns(c, tx, g.Key, live: true), GuardRuns(c, tx, g.Key, live: false), LastReset(c, tx, g.Key))).ToList();
            tx.Commit();
            return list;
        },
        cancellationToken);

    /// <inheritdoc/>
    public Task<bool> ResetGuardAsync(string key, GuardReset reset, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(reset);
        return WriteAsync(
            (c, tx) =>
            {
                var at = SqliteTime.ToDb(reset.At);
                if (Exec(c, tx, "UPDATE guards SET state = NULL, updated_at = $at WHERE key = $k", ("$at", at), ("$k", key)) == 0)
                {
                    return false;
                }

                Exec(c, tx, $"UPDATE runs SET guard_seen = 1 WHERE guard_key = $k AND guard_seen = 0 AND status IN ({GuardStores.EndedStatuses})", ("$k", key));
                Exec(c, tx, $"UPDATE guard_runs SET guard_seen = 1 WHERE guard_key = $k AND guard_seen = 0 AND status IN ({GuardStores.EndedStatuses})", ("$k", key));
                Exec(c, tx, "INSERT INTO guard_resets (key, at, actor, reason) VALUES ($k, $at, $actor, $reason)", ("$k", key), ("$at", at), ("$actor", reset.Actor), ("$reason", reset.Reason));
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<GuardVerdict?> AdmitExternalRunAsync(RunGuard guard, string runId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(guard);
        ArgumentException.ThrowIfNullOrEmpty(runId);
        return WriteAsync<GuardVerdict?>(
            (c, tx) =>
            {
                if (Query(c, tx, "SELECT 1 FROM guard_runs WHERE run_id = $id", r => r.GetInt64(0), ("$id", runId)).Count > 0)
                {
                    return null;
                }

                var verdict = Admit(c, tx, guard, runId, now);
                if (verdict.Allowed && guard.Enforce)
                {
                    Exec(c, tx, "INSERT INTO guard_runs (run_id, guard_key, status, created_at) VALUES ($id, $k, 'running', $at)", ("$id", runId), ("$k", guard.Key), ("$at", SqliteTime.ToDb(now)));
                }

                return verdict;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<bool> EndExternalRunAsync(string runId, RunStatus status, string? errorKind, int failedSteps, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var ended = GuardStores.EndedName(status);
        return WriteAsync(
            (c, tx) => Exec(
                c,
                tx,
                $"UPDATE guard_runs SET status = $s, completed_at = $at, error_kind = $ek, failed_steps = $f WHERE run_id = $id AND status IN ({GuardStores.LiveStatuses})",
                ("$id", runId),
                ("$s", ended),
                ("$at", SqliteTime.ToDb(at)),
                ("$ek", errorKind),
                ("$f", failedSteps)) == 1,
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListLiveExternalRunsAsync(string key, CancellationToken cancellationToken) =>
        ReadAsync<IReadOnlyList<string>>(c => Query(c, null, $"SELECT run_id FROM guard_runs WHERE guard_key = $k AND status IN ({GuardStores.LiveStatuses}) ORDER BY created_at, run_id", r => r.GetString(0), ("$k", key)), cancellationToken);

    /// <summary>Decides a guarded start under the write lock, saving the policy's state when enforced.</summary>
    private GuardVerdict Admit(SqliteConnection c, SqliteTransaction tx, RunGuard guard, NewRun run) => Admit(c, tx, guard, run.RunId, run.Now);

    private GuardVerdict Admit(SqliteConnection c, SqliteTransaction tx, RunGuard guard, string runId, DateTimeOffset at)
    {
        var state = Query(c, tx, "SELECT state FROM guards WHERE key = $k", r => Str(r, 0), ("$k", guard.Key)).FirstOrDefault();
        var ended = GuardRuns(c, tx, guard.Key, live: false);
        var verdict = GuardStores.Decide(guard, new GuardContext(guard.Key, state, GuardRuns(c, tx, guard.Key, live: true), ended, LastReset(c, tx, guard.Key), runId, at));
        if (guard.Enforce)
        {
            var now = SqliteTime.ToDb(at);
            Exec(c, tx, "INSERT INTO guards (key, state, updated_at) VALUES ($k, $s, $at) ON CONFLICT (key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at", ("$k", guard.Key), ("$s", verdict.State), ("$at", now));
            foreach (var r in ended)
            {
                Exec(c, tx, "UPDATE runs SET guard_seen = 1 WHERE run_id = $id", ("$id", r.RunId));
                Exec(c, tx, "UPDATE guard_runs SET guard_seen = 1 WHERE run_id = $id", ("$id", r.RunId));
            }
        }

        return verdict;
    }

    private List<GuardRun> GuardRuns(SqliteConnection c, SqliteTransaction tx, string key, bool live) => Query(
        c,
        tx,
        live
            ? $"SELECT * FROM (SELECT {GuardRunColumns} FROM runs WHERE guard_key = $k AND guard_seen = 0 AND status IN ({GuardStores.LiveStatuses}) UNION ALL SELECT {ExternalColumns} FROM guard_runs WHERE guard_key = $k AND guard_seen = 0 AND status IN ({GuardStores.LiveStatuses})) ORDER BY 3, 1"
            : $"SELECT * FROM (SELECT {GuardRunColumns} FROM runs WHERE guard_key = $k AND guard_seen = 0 AND status IN ({GuardStores.EndedStatuses}) UNION ALL SELECT {ExternalColumns} FROM guard_runs WHERE guard_key = $k AND guard_seen = 0 AND status IN ({GuardStores.EndedStatuses})) ORDER BY 4, 1",
        r => new GuardRun(r.GetString(0), RunStatusExtensions.ParseStoredName(r.GetString(1)), SqliteTime.FromDb(r.GetInt64(2)), Time(r, 3), Str(r, 4), (int)r.GetInt64(5)),
        ("$k", key));

    private GuardReset? LastReset(SqliteConnection c, SqliteTransaction tx, string key) => Query(
        c,
        tx,
        "SELECT at, actor, reason FROM guard_resets WHERE key = $k ORDER BY id DESC LIMIT 1",
        r => new GuardReset(SqliteTime.FromDb(r.GetInt64(0)), r.GetString(1), r.GetString(2)),
        ("$k", key)).FirstOrDefault();

    private static (string Key, string? State, DateTimeOffset UpdatedAt) MapGuardRow(SqliteDataReader r) => (r.GetString(0), Str(r, 1), SqliteTime.FromDb(r.GetInt64(2)));
}
