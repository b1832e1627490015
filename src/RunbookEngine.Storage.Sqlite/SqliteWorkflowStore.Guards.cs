using Microsoft.Data.Sqlite;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite;

/// <content>Guards: admission decided under the write lock, listing and resets.</content>
public sealed partial class SqliteWorkflowStore
{
    private const string GuardRunColumns = "run_id, status, created_at, completed_at, error_kind, (SELECT COUNT(*) FROM steps s WHERE s.run_id = runs.run_id AND s.status = 'failed')";

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
                Exec(c, tx, "INSERT INTO guard_resets (key, at, actor, reason) VALUES ($k, $at, $actor, $reason)", ("$k", key), ("$at", at), ("$actor", reset.Actor), ("$reason", reset.Reason));
                return true;
            },
            cancellationToken);
    }

    /// <summary>Decides a guarded start under the write lock, saving the policy's state when enforced.</summary>
    private GuardVerdict Admit(SqliteConnection c, SqliteTransaction tx, RunGuard guard, NewRun run)
    {
        var state = Query(c, tx, "SELECT state FROM guards WHERE key = $k", r => Str(r, 0), ("$k", guard.Key)).FirstOrDefault();
        var ended = GuardRuns(c, tx, guard.Key, live: false);
        var verdict = GuardStores.Decide(guard, new GuardContext(guard.Key, state, GuardRuns(c, tx, guard.Key, live: true), ended, LastReset(c, tx, guard.Key), run.RunId, run.Now));
        if (guard.Enforce)
        {
            var now = SqliteTime.ToDb(run.Now);
            Exec(c, tx, "INSERT INTO guards (key, state, updated_at) VALUES ($k, $s, $at) ON CONFLICT (key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at", ("$k", guard.Key), ("$s", verdict.State), ("$at", now));
            foreach (var r in ended)
            {
                Exec(c, tx, "UPDATE runs SET guard_seen = 1 WHERE run_id = $id", ("$id", r.RunId));
            }
        }

        return verdict;
    }

    private List<GuardRun> GuardRuns(SqliteConnection c, SqliteTransaction tx, string key, bool live) => Query(
        c,
        tx,
        live
            ? $"SELECT {GuardRunColumns} FROM runs WHERE guard_key = $k AND guard_seen = 0 AND status IN ({GuardStores.LiveStatuses}) ORDER BY created_at, run_id"
            : $"SELECT {GuardRunColumns} FROM runs WHERE guard_key = $k AND guard_seen = 0 AND status IN ({GuardStores.EndedStatuses}) ORDER BY completed_at, run_id",
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
