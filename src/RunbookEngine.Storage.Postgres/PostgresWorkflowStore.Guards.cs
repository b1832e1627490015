using Npgsql;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres;

/// <content>Guards: admission decided under the key's row lock, listing and resets.</content>
public sealed partial class PostgresWorkflowStore
{
    private const string GuardRunColumns = "run_id, status, created_at, completed_at, error_kind, (SELECT COUNT(*) FROM steps s WHERE s.run_id = runs.run_id AND s.status = 'failed') AS failed_steps";

    // The guard ledger: runs another engine (Temporal) runs, admitted here so that guards count them too.
    private const string ExternalColumns = "run_id, status, created_at, completed_at, error_kind, failed_steps::bigint";

    /// <inheritdoc/>
    public Task<IReadOnlyList<GuardRecord>> ListGuardsAsync(string? key, int limit, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<GuardRecord>>(
        async db =>
        {
            var keys = key is null
                ? await db.QueryAsync("SELECT key, state, updated_at FROM guards ORDER BY updated_at DESC, key LIMIT @n", MapGuardRow, Db.P("n", Math.Max(1, limit))).ConfigureAwait(false)
                : await db.QueryAsync("SELECT key, state, updated_at FROM guards WHERE key = @k", MapGuardRow, Db.P("k", key)).ConfigureAwait(false);
            var list = new List<GuardRecord>(keys.Count);
            foreach (var g in keys)
            {
                list.Add(new GuardRecord(
                    g.Key,
                    g.State,
                    g.UpdatedAt,
                    await GuardRunsAsync(db, g.Key, live: true).ConfigureAwait(false),
                    await GuardRunsAsync(db, g.Key, live: false).ConfigureAwait(false),
                    await LastResetAsync(db, g.Key).ConfigureAwait(false)));
            }

            return list;
        },
        cancellationToken);

    /// <inheritdoc/>
    public Task<bool> ResetGuardAsync(string key, GuardReset reset, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(reset);
        return WriteAsync(
            async db =>
            {
                if (await db.ExecAsync("UPDATE guards SET state = NULL, updated_at = @at WHERE key = @k", Db.P("at", reset.At), Db.P("k", key)).ConfigureAwait(false) == 0)
                {
                    return false;
                }

                await db.ExecAsync($"UPDATE runs SET guard_seen = true WHERE guard_key = @k AND NOT guard_seen AND status IN ({GuardStores.EndedStatuses})", Db.P("k", key)).ConfigureAwait(false);
                await db.ExecAsync($"UPDATE guard_runs SET guard_seen = true WHERE guard_key = @k AND NOT guard_seen AND status IN ({GuardStores.EndedStatuses})", Db.P("k", key)).ConfigureAwait(false);
                await db.ExecAsync("INSERT INTO guard_resets (key, at, actor, reason) VALUES (@k, @at, @actor, @reason)", Db.P("k", key), Db.P("at", reset.At), Db.P("actor", reset.Actor), Db.P("reason", reset.Reason)).ConfigureAwait(false);
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
            async db =>
            {
                var state = await LockGuardAsync(db, guard, now).ConfigureAwait(false);
                if ((await db.QueryAsync("SELECT 1 FROM guard_runs WHERE run_id = @id", r => r.GetInt32(0), Db.P("id", runId)).ConfigureAwait(false)).Count > 0)
                {
                    return null;
                }

                var verdict = await AdmitAsync(db, guard, state, runId, now).ConfigureAwait(false);
                if (verdict.Allowed && guard.Enforce)
                {
                    await db.ExecAsync("INSERT INTO guard_runs (run_id, guard_key, status, created_at) VALUES (@id, @k, 'running', @at)", Db.P("id", runId), Db.P("k", guard.Key), Db.P("at", now)).ConfigureAwait(false);
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
            async db => await db.ExecAsync(
                $"UPDATE guard_runs SET status = @s, completed_at = @at, error_kind = @ek, failed_steps = @f WHERE run_id = @id AND status IN ({GuardStores.LiveStatuses})",
                Db.P("id", runId),
                Db.P("s", ended),
                Db.P("at", at),
                Db.P("ek", errorKind),
                Db.P("f", failedSteps)).ConfigureAwait(false) == 1,
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListLiveExternalRunsAsync(string key, CancellationToken cancellationToken) =>
        ReadAsync<IReadOnlyList<string>>(
            async db => await db.QueryAsync($"SELECT run_id FROM guard_runs WHERE guard_key = @k AND status IN ({GuardStores.LiveStatuses}) ORDER BY created_at, run_id", r => r.GetString(0), Db.P("k", key)).ConfigureAwait(false),
            cancellationToken);

    /// <summary>Takes the key's row lock (creating the row when enforced) and returns its saved state.</summary>
    private static async Task<string?> LockGuardAsync(Db db, RunGuard guard, DateTimeOffset now)
    {
        if (!guard.Enforce)
        {
            return (await db.QueryAsync("SELECT state FROM guards WHERE key = @k", r => Str(r, 0), Db.P("k", guard.Key)).ConfigureAwait(false)).FirstOrDefault();
        }

        await db.ExecAsync("INSERT INTO guards (key, state, updated_at) VALUES (@k, NULL, @at) ON CONFLICT (key) DO NOTHING", Db.P("k", guard.Key), Db.P("at", now)).ConfigureAwait(false);
        return (await db.QueryAsync("SELECT state FROM guards WHERE key = @k FOR UPDATE", r => Str(r, 0), Db.P("k", guard.Key)).ConfigureAwait(false)).FirstOrDefault();
    }

    /// <summary>Decides a guarded start while holding the key's lock, saving the policy's state when enforced.</summary>
    private static Task<GuardVerdict> AdmitAsync(Db db, RunGuard guard, string? state, NewRun run) => AdmitAsync(db, guard, state, run.RunId, run.Now);

    private static async Task<GuardVerdict> AdmitAsync(Db db, RunGuard guard, string? state, string runId, DateTimeOffset now)
    {
        var ended = await GuardRunsAsync(db, guard.Key, live: false).ConfigureAwait(false);
        var live = await GuardRunsAsync(db, guard.Key, live: true).ConfigureAwait(false);
        var verdict = GuardStores.Decide(guard, new GuardContext(guard.Key, state, live, ended, await LastResetAsync(db, guard.Key).ConfigureAwait(false), runId, now));
        if (guard.Enforce)
        {
            await db.ExecAsync("UPDATE guards SET state = @s, updated_at = @at WHERE key = @k", Db.P("s", verdict.State), Db.P("at", now), Db.P("k", guard.Key)).ConfigureAwait(false);
            if (ended.Count > 0)
            {
                await db.ExecAsync("UPDATE runs SET guard_seen = true WHERE run_id = ANY(@ids)", Db.P("ids", ended.Select(r => r.RunId).ToArray())).ConfigureAwait(false);
                await db.ExecAsync("UPDATE guard_runs SET guard_seen = true WHERE run_id = ANY(@ids)", Db.P("ids", ended.Select(r => r.RunId).ToArray())).ConfigureAwait(false);
            }
        }

        return verdict;
    }

    private static Task<List<GuardRun>> GuardRunsAsync(Db db, string key, bool live) => db.QueryAsync(
        live
            ? $"SELECT {GuardRunColumns} FROM runs WHERE guard_key = @k AND NOT guard_seen AND status IN ({GuardStores.LiveStatuses}) UNION ALL SELECT {ExternalColumns} FROM guard_runs WHERE guard_key = @k AND NOT guard_seen AND status IN ({GuardStores.LiveStatuses}) ORDER BY created_at, run_id"
            : $"SELECT {GuardRunColumns} FROM runs WHERE guard_key = @k AND NOT guard_seen AND status IN ({GuardStores.EndedStatuses}) UNION ALL SELECT {ExternalColumns} FROM guard_runs WHERE guard_key = @k AND NOT guard_seen AND status IN ({GuardStores.EndedStatuses}) ORDER BY completed_at, run_id",
        r => new GuardRun(r.GetString(0), RunStatusExtensions.ParseStoredName(r.GetString(1)), Time(r, 2), TimeOrNull(r, 3), Str(r, 4), (int)r.GetInt64(5)),
        Db.P("k", key));

    private static async Task<GuardReset?> LastResetAsync(Db db, string key) => (await db.QueryAsync(
        "SELECT at, actor, reason FROM guard_resets WHERE key = @k ORDER BY id DESC LIMIT 1",
        r => new GuardReset(Time(r, 0), r.GetString(1), r.GetString(2)),
        Db.P("k", key)).ConfigureAwait(false)).FirstOrDefault();

    private static (string Key, string? State, DateTimeOffset UpdatedAt) MapGuardRow(NpgsqlDataReader r) => (r.GetString(0), Str(r, 1), Time(r, 2));
}
