using System.Data;
using System.Text;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres;

/// <content>Starting, signalling, cancelling and reading runs.</content>
public sealed partial class PostgresWorkflowStore
{
    /// <inheritdoc/>
    public Task<StartRunResult> StartRunAsync(NewRun run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        return WriteAsync(
            async db =>
            {
                // A guarded start first takes its key's row lock, so starts of one key are decided one at a time
                // across every process; the idempotency check after it then sees the previous start's run.
                var state = run.Guard is { } g ? await LockGuardAsync(db, g, run.Now).ConfigureAwait(false) : null;
                var existing = await ExistingAsync(db).ConfigureAwait(false);
                if (existing is not null)
                {
                    return new StartRunResult(existing, false);
                }

                var verdict = run.Guard is { } guard ? await AdmitAsync(db, guard, state, run).ConfigureAwait(false) : null;
                var blocked = verdict is { Allowed: false } && run.Guard!.Enforce;

                await db.ExecAsync(
                    "INSERT INTO definitions (hash, workflow, content, created_at) VALUES (@h, @w, @c, @at) ON CONFLICT (hash) DO NOTHING",
                    Db.P("h", run.Definition.Hash),
                    Db.P("w", run.Definition.Name),
                    Db.P("c", run.Definition.Content),
                    Db.P("at", run.Now)).ConfigureAwait(false);
                var (input, inputRef) = await PayloadAsync(db, run.Input).ConfigureAwait(false);

                // Another process may be starting the same key or id right now: the loser inserts nothing and returns the winner's run.
                var inserted = await db.ExecAsync(
                    """
                    INSERT INTO runs (run_id, workflow, definition_hash, queue, status, idempotency_key, input, input_ref, created_by, created_at, updated_at, available_at, timeline_hash,
                                      guard_key, guard_seen, completed_at, error_kind, error_message, trace_parent)
                    VALUES (@id, @w, @h, @q, @status, @k, @in, @inref, @by, @now, @now, @available, @genesis, @gk, @gseen, @done, @ek, @em, @tp)
                    ON CONFLICT DO NOTHING
                    """,
                    Db.P("status", blocked ? "blocked" : "ready"),
                    Db.P("available", blocked ? null : run.Now),
                    Db.P("gk", run.Guard is { Enforce: true } ? run.Guard.Key : null),
                    Db.P("gseen", blocked),
                    Db.P("done", blocked ? run.Now : null),
                    Db.P("ek", blocked ? "GuardBlocked" : null),
                    Db.P("em", blocked ? verdict!.Reason : null),
                    Db.P("id", run.RunId),
                    Db.P("w", run.Definition.Name),
                    Db.P("h", run.Definition.Hash),
                    Db.P("q", run.Queue),
                    Db.P("k", blocked ? null : run.IdempotencyKey), // a refused start does not use up its key: a repeat is decided again
                    Db.P("in", input),
                    Db.P("inref", inputRef),
                    Db.P("by", run.Actor),
                    Db.P("now", run.Now),
                    Db.P("genesis", TimelineChain.Genesis),
                    Db.P("tp", run.TraceParent)).ConfigureAwait(false);
                if (inserted == 0)
                {
                    return new StartRunResult(await ExistingAsync(db).ConfigureAwait(false) ?? throw new WorkflowStoreException($"Run {run.RunId} conflicts with an existing run but cannot be read."), false);
                }

                await AppendEventsAsync(db, [(run.RunId, 0L, TimelineChain.Genesis, GuardStores.CreatedEvents(run, verdict))]).ConfigureAwait(false);
                if (blocked)
                {
                    db.Ended.Add(run.RunId);
                }
                else
                {
                    db.Wakes.Add(run.Queue);
                }

                return new StartRunResult((await ReadRunAsync(db, run.RunId).ConfigureAwait(false))!, true);
            },
            cancellationToken);

        async Task<RunRecord?> ExistingAsync(Db db)
        {
            if (run.IdempotencyKey is not null)
            {
                var byKey = (await db.QueryAsync($"{RunSelect} WHERE r.idempotency_key = @k", MapRun, Db.P("k", run.IdempotencyKey)).ConfigureAwait(false)).FirstOrDefault();
                if (byKey is not null)
                {
                    return byKey;
                }
            }

            return await ReadRunAsync(db, run.RunId).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public Task<SignalOutcome> SignalAsync(string runId, NewSignal signal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(signal);
        return WriteAsync(
            async db =>
            {
                var head = await LockRunAsync(db, runId).ConfigureAwait(false);
                if (head is null)
                {
                    return SignalOutcome.RunNotFound;
                }

                if (head.Value.Status.IsTerminal())
                {
                    return SignalOutcome.RunFinished;
                }

                var id = Convert.ToInt64(
                    await db.ScalarAsync(
                        "INSERT INTO signals (run_id, name, payload, sender, received_at) VALUES (@run, @n, @p, @s, @at) RETURNING id",
                        Db.P("run", runId),
                        Db.P("n", signal.Name),
                        Db.P("p", signal.Payload),
                        Db.P("s", signal.Sender),
                        Db.P("at", signal.At)).ConfigureAwait(false),
                    System.Globalization.CultureInfo.InvariantCulture);
                await WakeAsync(db, runId, signal.At).ConfigureAwait(false);
                await AppendEventsAsync(db, [(runId, head.Value.Seq, head.Value.Hash, (IReadOnlyList<NewTimelineEvent>)[new NewTimelineEvent(signal.At, signal.Sender, TimelineKinds.SignalReceived, TimelineData.Of(("signal", signal.Name), ("signal_id", id), ("payload", WorkflowJson.Parse(signal.Payload))))])]).ConfigureAwait(false);
                return SignalOutcome.Delivered;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<CancelOutcome> RequestCancelAsync(string runId, string actor, string? reason, DateTimeOffset now, CancellationToken cancellationToken) => WriteAsync(
        async db =>
        {
            var head = await LockRunAsync(db, runId).ConfigureAwait(false);
            if (head is null)
            {
                return CancelOutcome.RunNotFound;
            }

            if (head.Value.Status.IsTerminal())
            {
                return CancelOutcome.RunFinished;
            }

            if (head.Value.CancelRequested)
            {
                return CancelOutcome.AlreadyRequested;
            }

            await db.ExecAsync(
                "UPDATE runs SET cancel_requested = true, cancel_requested_by = @by, cancel_reason = @why, updated_at = @now WHERE run_id = @id",
                Db.P("by", actor),
                Db.P("why", reason),
                Db.P("now", now),
                Db.P("id", runId)).ConfigureAwait(false);
            await WakeAsync(db, runId, now).ConfigureAwait(false);
            await AppendEventsAsync(db, [(runId, head.Value.Seq, head.Value.Hash, (IReadOnlyList<NewTimelineEvent>)[new NewTimelineEvent(now, actor, TimelineKinds.RunCancelRequested, TimelineData.Of(("reason", reason)))])]).ConfigureAwait(false);
            return CancelOutcome.Requested;
        },
        cancellationToken);

    /// <inheritdoc/>
    public Task AppendTimelineAsync(string runId, NewTimelineEvent timelineEvent, CancellationToken cancellationToken) => WriteAsync(
        async db =>
        {
            await AppendEventsAsync(db, runId, [timelineEvent]).ConfigureAwait(false);
            return true;
        },
        cancellationToken);

    /// <inheritdoc/>
    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken) =>
        ReadAsync(db => ReadRunAsync(db, runId), cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var sql = new StringBuilder($"{RunSelect} WHERE true");
        var ps = new List<Npgsql.NpgsqlParameter>();
        if (query.Status is { } s)
        {
            sql.Append(" AND r.status = @status");
            ps.Add(Db.P("status", s.ToStoredName()));
        }

        if (query.IdempotencyKey is { } key)
        {
            sql.Append(" AND r.idempotency_key = @key");
            ps.Add(Db.P("key", key));
        }

        if (query.WorkflowName is { } w)
        {
            sql.Append(" AND r.workflow = @workflow");
            ps.Add(Db.P("workflow", w));
        }

        if (query.CreatedFrom is { } from)
        {
            sql.Append(" AND r.created_at >= @from");
            ps.Add(Db.P("from", from));
        }

        if (query.CreatedBefore is { } before)
        {
            sql.Append(query.BeforeRunId is null ? " AND r.created_at < @before" : " AND (r.created_at, r.run_id) < (@before, @beforeId)");
            ps.Add(Db.P("before", before));
            if (query.BeforeRunId is { } beforeId)
            {
                ps.Add(Db.P("beforeId", beforeId));
            }
        }

        if (query.StartedByPrefix is { } prefix)
        {
            sql.Append(" AND starts_with(r.created_by, @prefix)");
            ps.Add(Db.P("prefix", prefix));
        }

        if (query.Target is { } target)
        {
            sql.Append(" AND r.guard_key = @target");
            ps.Add(Db.P("target", target));
        }

        sql.Append(" ORDER BY r.created_at DESC, r.run_id DESC LIMIT @limit");
        ps.Add(Db.P("limit", Math.Max(0, query.Limit)));
        return ReadAsync<IReadOnlyList<RunRecord>>(async db => await db.QueryAsync(sql.ToString(), MapRun, [.. ps]).ConfigureAwait(false), cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<TimelineEvent>> GetTimelineAsync(string runId, long afterSequence, int limit, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<TimelineEvent>>(
        async db => await db.QueryAsync(
            "SELECT run_id, seq, at, actor, kind, data, hash FROM timeline WHERE run_id = @id AND seq > @after ORDER BY seq LIMIT @limit",
            MapEvent,
            Db.P("id", runId),
            Db.P("after", afterSequence),
            Db.P("limit", limit)).ConfigureAwait(false),
        cancellationToken);

    /// <inheritdoc/>
    public Task<WorkflowDefinition?> GetDefinitionAsync(string hash, CancellationToken cancellationToken) => ReadAsync(
        async db => (await db.QueryAsync("SELECT workflow, content FROM definitions WHERE hash = @h", r => new WorkflowDefinition(r.GetString(0), r.GetString(1)), Db.P("h", hash)).ConfigureAwait(false)).FirstOrDefault(),
        cancellationToken);

    /// <inheritdoc/>
    public Task<RunHistory> LoadHistoryAsync(string runId, CancellationToken cancellationToken) => WithRetryAsync(
        async () =>
        {
            // One snapshot: the run, its steps and its pending signals as of one moment, in one round trip (an
            // implicit transaction: repeatable read takes its snapshot at the first SELECT, and no COMMIT is sent).
            var db = await Db.OpenAsync(dataSource, null, cancellationToken).ConfigureAwait(false);
            await using (db.ConfigureAwait(false))
            {
                var histories = await ReadHistoriesAsync(db, [runId], ("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", []), (Db.GenericPlans, [])).ConfigureAwait(false);
                return histories.TryGetValue(runId, out var history) ? history : throw new WorkflowStoreException($"Run {runId} does not exist.");
            }
        },
        cancellationToken);

    /// <summary>Locks a run's row for this transaction and reads its status and timeline head.</summary>
    private static async Task<(RunStatus Status, bool CancelRequested, long Seq, string Hash)?> LockRunAsync(Db db, string runId)
    {
        var rows = await db.QueryAsync(
            "SELECT status, cancel_requested, timeline_seq, timeline_hash FROM runs WHERE run_id = @id FOR UPDATE",
            r => (RunStatusExtensions.ParseStoredName(r.GetString(0)), r.GetBoolean(1), r.GetInt64(2), r.GetString(3)),
            Db.P("id", runId)).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }
}
