using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite;

/// <content>Starting, signalling, cancelling and reading runs.</content>
public sealed partial class SqliteWorkflowStore
{
    /// <inheritdoc/>
    public Task<StartRunResult> StartRunAsync(NewRun run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        return WriteAsync(
            (c, tx) =>
            {
                if (run.IdempotencyKey is not null)
                {
                    var byKey = Query(c, tx, $"SELECT {RunColumns} FROM runs WHERE idempotency_key = $k", MapRun, ("$k", run.IdempotencyKey)).FirstOrDefault();
                    if (byKey is not null)
                    {
                        return new StartRunResult(byKey, false);
                    }
                }

                var byId = ReadRun(c, tx, run.RunId);
                if (byId is not null)
                {
                    return new StartRunResult(byId, false);
                }

                if (Scalar(c, tx, "SELECT pruned_at FROM pruned_runs WHERE run_id = $id", ("$id", run.RunId)) is { } pruned)
                {
                    throw new WorkflowStoreException($"Run {run.RunId} was pruned on {SqliteTime.FromDb(Convert.ToInt64(pruned, CultureInfo.InvariantCulture)):yyyy-MM-dd HH:mm:ss}Z; a run id is never used twice: start it with a new id.");
                }

                var now = SqliteTime.ToDb(run.Now);
                var verdict = run.Guard is { } guard ? Admit(c, tx, guard, run) : null;
                var blocked = verdict is { Allowed: false } && run.Guard!.Enforce;
                Exec(
                    c,
                    tx,
                    "INSERT INTO definitions (hash, workflow, content, created_at) VALUES ($h, $w, $c, $at) ON CONFLICT (hash) DO NOTHING",
                    ("$h", run.Definition.Hash),
                    ("$w", run.Definition.Name),
                    ("$c", run.Definition.Content),
                    ("$at", now));
                Exec(
                    c,
                    tx,
                    """
                    INSERT INTO runs (run_id, workflow, definition_hash, queue, status, idempotency_key, input, created_by, created_at, updated_at, available_at, timeline_hash,
                                      guard_key, guard_seen, completed_at, error_kind, error_message, trace_parent)
                    VALUES ($id, $w, $h, $q, $status, $k, $in, $by, $now, $now, $available, $genesis, $gk, $gseen, $done, $ek, $em, $tp)
                    """,
                    ("$status", blocked ? "blocked" : "ready"),
                    ("$available", blocked ? null : now),
                    ("$gk", run.Guard is { Enforce: true } ? run.Guard.Key : null),
                    ("$gseen", blocked ? 1 : 0),
                    ("$done", blocked ? now : null),
                    ("$ek", blocked ? "GuardBlocked" : null),
                    ("$em", blocked ? verdict!.Reason : null),
                    ("$id", run.RunId),
                    ("$w", run.Definition.Name),
                    ("$h", run.Definition.Hash),
                    ("$q", run.Queue),
                    ("$k", blocked ? null : run.IdempotencyKey), // a refused start does not use up its key: a repeat is decided again
                    ("$in", run.Input),
                    ("$by", run.Actor),
                    ("$now", now),
                    ("$genesis", TimelineChain.Genesis),
                    ("$tp", run.TraceParent));
                AppendEvents(c, tx, run.RunId, GuardStores.CreatedEvents(run, verdict));
                return new StartRunResult(ReadRun(c, tx, run.RunId)!, true);
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<SignalOutcome> SignalAsync(string runId, NewSignal signal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(signal);
        return WriteAsync(
            (c, tx) =>
            {
                var status = Scalar(c, tx, "SELECT status FROM runs WHERE run_id = $id", ("$id", runId)) as string;
                if (status is null)
                {
                    return SignalOutcome.RunNotFound;
                }

                if (RunStatusExtensions.ParseStoredName(status).IsTerminal())
                {
                    return SignalOutcome.RunFinished;
                }

                var at = SqliteTime.ToDb(signal.At);
                var id = Convert.ToInt64(
                    Scalar(c, tx, "INSERT INTO signals (run_id, name, payload, sender, received_at) VALUES ($run, $n, $p, $s, $at) RETURNING id", ("$run", runId), ("$n", signal.Name), ("$p", signal.Payload), ("$s", signal.Sender), ("$at", at)),
                    CultureInfo.InvariantCulture);
                Wake(c, tx, runId, at);
                AppendEvents(c, tx, runId, [new NewTimelineEvent(signal.At, signal.Sender, TimelineKinds.SignalReceived, TimelineData.Of(("signal", signal.Name), ("signal_id", id), ("payload", WorkflowJson.Parse(signal.Payload))))]);
                return SignalOutcome.Delivered;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<CancelOutcome> RequestCancelAsync(string runId, string actor, string? reason, DateTimeOffset now, CancellationToken cancellationToken) => WriteAsync(
        (c, tx) =>
        {
            var run = ReadRun(c, tx, runId);
            if (run is null)
            {
                return CancelOutcome.RunNotFound;
            }

            if (run.Status.IsTerminal())
            {
                return CancelOutcome.RunFinished;
            }

            if (run.CancelRequested)
            {
                return CancelOutcome.AlreadyRequested;
            }

            var at = SqliteTime.ToDb(now);
            Exec(c, tx, "UPDATE runs SET cancel_requested = 1, cancel_requested_by = $by, cancel_reason = $why, updated_at = $now WHERE run_id = $id", ("$by", actor), ("$why", reason), ("$now", at), ("$id", runId));
            Wake(c, tx, runId, at);
            AppendEvents(c, tx, runId, [new NewTimelineEvent(now, actor, TimelineKinds.RunCancelRequested, TimelineData.Of(("reason", reason)))]);
            return CancelOutcome.Requested;
        },
        cancellationToken);

    /// <inheritdoc/>
    public Task AppendTimelineAsync(string runId, NewTimelineEvent timelineEvent, CancellationToken cancellationToken) => WriteAsync(
        (c, tx) =>
        {
            AppendEvents(c, tx, runId, [timelineEvent]);
            return true;
        },
        cancellationToken);

    /// <inheritdoc/>
    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken) =>
        ReadAsync(c => ReadRun(c, null, runId), cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var sql = new StringBuilder($"SELECT {RunColumns} FROM runs WHERE 1 = 1");
        var ps = new List<(string, object?)>();
        if (query.Status is { } s)
        {
            sql.Append(" AND status = $status");
            ps.Add(("$status", s.ToStoredName()));
        }

        if (query.IdempotencyKey is { } key)
        {
            sql.Append(" AND idempotency_key = $key");
            ps.Add(("$key", key));
        }

        if (query.WorkflowName is { } w)
        {
            sql.Append(" AND workflow = $workflow");
            ps.Add(("$workflow", w));
        }

        if (query.CreatedFrom is { } from)
        {
            sql.Append(" AND created_at >= $from");
            ps.Add(("$from", SqliteTime.ToDb(from)));
        }

        if (query.CreatedBefore is { } before)
        {
            sql.Append(query.BeforeRunId is null ? " AND created_at < $before" : " AND (created_at < $before OR (created_at = $before AND run_id < $beforeId))");
            ps.Add(("$before", SqliteTime.ToDb(before)));
            if (query.BeforeRunId is { } beforeId)
            {
                ps.Add(("$beforeId", beforeId));
            }
        }

        if (query.StartedByPrefix is { } prefix)
        {
            sql.Append(" AND substr(created_by, 1, length($prefix)) = $prefix");
            ps.Add(("$prefix", prefix));
        }

        if (query.Target is { } target)
        {
            sql.Append(" AND guard_key = $target");
            ps.Add(("$target", target));
        }

        sql.Append(" ORDER BY created_at DESC, run_id DESC LIMIT $limit");
        ps.Add(("$limit", Math.Max(0, query.Limit)));
        return ReadAsync<IReadOnlyList<RunRecord>>(c => Query(c, null, sql.ToString(), MapRun, [.. ps]), cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<TimelineEvent>> GetTimelineAsync(string runId, long afterSequence, int limit, CancellationToken cancellationToken) =>
        ReadAsync<IReadOnlyList<TimelineEvent>>(
            c => Query(c, null, "SELECT run_id, seq, at, actor, kind, data, hash FROM timeline WHERE run_id = $id AND seq > $after ORDER BY seq LIMIT $limit", MapEvent, ("$id", runId), ("$after", afterSequence), ("$limit", limit)),
            cancellationToken);

    /// <inheritdoc/>
    public Task<WorkflowDefinition?> GetDefinitionAsync(string hash, CancellationToken cancellationToken) =>
        ReadAsync(
            c => Query(c, null, "SELECT workflow, content FROM definitions WHERE hash = $h", r => new WorkflowDefinition(r.GetString(0), r.GetString(1)), ("$h", hash)).FirstOrDefault(),
            cancellationToken);

    /// <inheritdoc/>
    public Task<RunHistory> LoadHistoryAsync(string runId, CancellationToken cancellationToken) => ReadAsync(
        c =>
        {
            // One read transaction: the run, its steps and its pending signals are one consistent snapshot.
            using var tx = c.BeginTransaction(deferred: true);
            var run = ReadRun(c, tx, runId) ?? throw new WorkflowStoreException($"Run {runId} does not exist.");
            var steps = Query(c, tx, $"SELECT {StepColumns} FROM steps WHERE run_id = $id ORDER BY seq", MapStep, ("$id", runId));
            var signals = Query(
                c,
                tx,
                "SELECT id, name, payload, sender, received_at FROM signals WHERE run_id = $id AND consumed_seq IS NULL ORDER BY id",
                r => new SignalRecord(r.GetInt64(0), r.GetString(1), Str(r, 2), r.GetString(3), SqliteTime.FromDb(r.GetInt64(4)), null),
                ("$id", runId));
            tx.Commit();
            return new RunHistory(run, steps, signals);
        },
        cancellationToken);

    /// <summary>Counts an external event and makes a waiting run ready.</summary>
    private void Wake(SqliteConnection c, SqliteTransaction tx, string runId, long now) => Exec(
        c,
        tx,
        """
        UPDATE runs SET wake_count = wake_count + 1,
            available_at = CASE WHEN status = 'waiting' THEN $now ELSE available_at END,
            status = CASE WHEN status = 'waiting' THEN 'ready' ELSE status END,
            updated_at = $now
        WHERE run_id = $id
        """,
        ("$now", now),
        ("$id", runId));
}
