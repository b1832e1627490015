using Npgsql;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres;

/// <content>Claims, fenced commits and leases.</content>
public sealed partial class PostgresWorkflowStore
{
    private const string EndQueuedActivitiesSql =
        "UPDATE steps SET status = 'failed', error_kind = 'RunEnded', error_message = 'the run ended before this activity was executed', completed_at = @now, available_at = NULL WHERE run_id = ANY(@ids) AND kind = 'activity' AND status = 'queued'";

    /// <inheritdoc/>
    public Task<IReadOnlyList<QueueBacklog>> BacklogAsync(DateTimeOffset now, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<QueueBacklog>>(
        async db => await db.QueryAsync(
            $"""
            SELECT queue, 'run', COUNT(*), MIN(available_at) FROM runs
              WHERE status IN ('ready', 'waiting') AND available_at <= @now GROUP BY queue
            UNION ALL
            SELECT queue, 'step', COUNT(*), MIN(available_at) FROM steps s
              WHERE kind = 'activity' AND status = 'queued' AND available_at <= @now AND {LiveRun}
              GROUP BY queue
            ORDER BY 1, 2
            """,
            r => new QueueBacklog(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetFieldValue<DateTimeOffset>(3)),
            Db.P("now", now)).ConfigureAwait(false),
        cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<ClaimedRun>> ClaimRunsAsync(ClaimRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ClaimTransactionAsync<IReadOnlyList<ClaimedRun>>(
            async db =>
            {
                var candidates = await ExpiredThenReadyAsync(db, ExpiredRunsSql, ReadyRunsSql, ReadCandidate, request).ConfigureAwait(false);
                if (candidates.Count == 0)
                {
                    return [];
                }

                var ids = candidates.Select(c => c.Id).ToArray();
                await db.ExecAsync(
                    "UPDATE runs SET status = 'running', lease_owner = @w, lease_expires_at = @exp, updated_at = @now WHERE run_id = ANY(@ids)",
                    Db.P("w", request.WorkerId),
                    Db.P("exp", request.Now + request.LeaseDuration),
                    Db.P("now", request.Now),
                    Db.P("ids", ids)).ConfigureAwait(false);
                var actor = "worker:" + request.WorkerId;
                var heads = await AppendEventsAsync(
                    db,
                    candidates.Select(c => (c.Id, c.Seq, c.Hash, (IReadOnlyList<NewTimelineEvent>)
                    [
                        c.Status == "running"
                            ? new NewTimelineEvent(request.Now, actor, TimelineKinds.RunRecovered, TimelineData.Of(("previous_owner", c.Owner), ("reason", "lease expired")))
                            : new NewTimelineEvent(request.Now, actor, TimelineKinds.RunClaimed, TimelineData.Of(("from", c.Status))),
                    ])).ToList()).ConfigureAwait(false);
                var histories = await ReadHistoriesAsync(db, ids).ConfigureAwait(false);
                foreach (var (id, seq, hash) in heads)
                {
                    RememberHead(id, seq, hash, histories[id].Run.Queue);
                }

                return candidates.Select(c => new ClaimedRun(histories[c.Id].Run, c.Status == "running" ? c.Owner : null) { History = histories[c.Id] }).ToList();
            },
            cancellationToken);

        static (string Id, string Status, string? Owner, long Seq, string Hash) ReadCandidate(NpgsqlDataReader r) =>
            (r.GetString(0), r.GetString(1), Str(r, 2), r.GetInt64(3), r.GetString(4));
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<ClaimedActivity>> ClaimActivitiesAsync(ClaimRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ClaimTransactionAsync<IReadOnlyList<ClaimedActivity>>(
            async db =>
            {
                var candidates = await ExpiredThenReadyAsync(db, ExpiredActivitiesSql, ReadyActivitiesSql, ReadCandidate, request).ConfigureAwait(false);
                if (candidates.Count == 0)
                {
                    return [];
                }

                var claimed = new List<ClaimedActivity>(candidates.Count);
                var events = new Dictionary<string, List<NewTimelineEvent>>(StringComparer.Ordinal);
                var actor = "worker:" + request.WorkerId;
                foreach (var (runId, seq, status, previous) in candidates)
                {
                    var step = (await db.QueryAsync(
                        $"""
                        WITH s AS (
                            UPDATE steps SET status = 'running', attempt = attempt + 1, lease_owner = @w, lease_expires_at = @exp, started_at = COALESCE(started_at, @now)
                            WHERE run_id = @run AND seq = @seq RETURNING *)
                        SELECT {StepSelectList} FROM s {StepJoins}
                        """,
                        MapStep,
                        Db.P("w", request.WorkerId),
                        Db.P("exp", request.Now + request.LeaseDuration),
                        Db.P("now", request.Now),
                        Db.P("run", runId),
                        Db.P("seq", seq)).ConfigureAwait(false))[0];
                    var recovered = status == "running";
                    if (!events.TryGetValue(runId, out var list))
                    {
                        events[runId] = list = [];
                    }

                    if (recovered)
                    {
                        list.Add(new(request.Now, actor, TimelineKinds.StepInterrupted, TimelineData.Of(("seq", seq), ("step", step.Name), ("attempt", step.Attempt - 1), ("previous_owner", previous))));
                    }

                    list.Add(new(request.Now, actor, TimelineKinds.StepStarted, TimelineData.Of(("seq", seq), ("step", step.Name), ("attempt", step.Attempt), ("activity", step.Activity), ("queue", step.Queue))));
                    claimed.Add(new ClaimedActivity(runId, step, recovered ? previous : null));
                }

                // Lock the runs' rows in one order (the timeline heads live there) so concurrent claimers cannot deadlock on them.
                var heads = await db.QueryAsync(
                    "SELECT run_id, timeline_seq, timeline_hash FROM runs WHERE run_id = ANY(@ids) ORDER BY run_id FOR UPDATE",
                    r => (Id: r.GetString(0), Seq: r.GetInt64(1), Hash: r.GetString(2)),
                    Db.P("ids", events.Keys.ToArray())).ConfigureAwait(false);
                await AppendEventsAsync(db, heads.Select(h => (h.Id, h.Seq, h.Hash, (IReadOnlyList<NewTimelineEvent>)events[h.Id])).ToList()).ConfigureAwait(false);
                return claimed;
            },
            cancellationToken);

        static (string RunId, int Seq, string Status, string? Owner) ReadCandidate(NpgsqlDataReader r) =>
            (r.GetString(0), r.GetInt32(1), r.GetString(2), Str(r, 3));
    }

    /// <inheritdoc/>
    public Task CommitAsync(RunCommit commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        cancellationToken.ThrowIfCancellationRequested();
        return EnqueueAsync(new CommitOperation(commit, async db =>
        {
            await ApplyCommitAsync(db, commit).ConfigureAwait(false);
            return true;
        }));
    }

    /// <inheritdoc/>
    public Task<LeaseRenewal> RenewLeasesAsync(string workerId, IReadOnlyCollection<string> runIds, IReadOnlyCollection<(string RunId, int Sequence)> activities, DateTimeOffset until, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runIds);
        ArgumentNullException.ThrowIfNull(activities);
        return WriteAsync(
            async db =>
            {
                var held = runIds.Count == 0 ? [] : await db.QueryAsync(
                    "UPDATE runs SET lease_expires_at = @exp WHERE run_id = ANY(@ids) AND status = 'running' AND lease_owner = @w RETURNING run_id, cancel_requested",
                    r => (Id: r.GetString(0), Cancel: r.GetBoolean(1)),
                    Db.P("exp", until),
                    Db.P("ids", runIds.ToArray()),
                    Db.P("w", workerId)).ConfigureAwait(false);
                var heldIds = held.Select(h => h.Id).ToHashSet(StringComparer.Ordinal);
                var heldSteps = activities.Count == 0 ? [] : await db.QueryAsync(
                    """
                    UPDATE steps SET lease_expires_at = @exp
                    FROM unnest(@runs, @seqs) AS a(run_id, seq)
                    WHERE steps.run_id = a.run_id AND steps.seq = a.seq AND steps.status = 'running' AND steps.lease_owner = @w
                    RETURNING steps.run_id, steps.seq
                    """,
                    r => (r.GetString(0), r.GetInt32(1)),
                    Db.P("exp", until),
                    Db.P("runs", activities.Select(a => a.RunId).ToArray()),
                    Db.P("seqs", activities.Select(a => (long)a.Sequence).ToArray()),
                    Db.P("w", workerId)).ConfigureAwait(false);
                var heldStepSet = heldSteps.ToHashSet();
                return new LeaseRenewal(
                    runIds.Where(id => !heldIds.Contains(id)).ToList(),
                    held.Where(h => h.Cancel).Select(h => h.Id).ToList(),
                    activities.Where(a => !heldStepSet.Contains(a)).ToList());
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task ReleaseLeasesAsync(string workerId, IReadOnlyCollection<string> runIds, IReadOnlyCollection<(string RunId, int Sequence)> activities, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runIds);
        ArgumentNullException.ThrowIfNull(activities);
        return WriteAsync(
            async db =>
            {
                var released = runIds.Count == 0 ? [] : await db.QueryAsync(
                    "UPDATE runs SET lease_expires_at = @now, updated_at = @now WHERE run_id = ANY(@ids) AND status = 'running' AND lease_owner = @w RETURNING run_id, queue, timeline_seq, timeline_hash",
                    r => (Id: r.GetString(0), Queue: r.GetString(1), Seq: r.GetInt64(2), Hash: r.GetString(3)),
                    Db.P("now", now),
                    Db.P("ids", runIds.ToArray()),
                    Db.P("w", workerId)).ConfigureAwait(false);
                await AppendEventsAsync(db, released.Select(r => (r.Id, r.Seq, r.Hash, (IReadOnlyList<NewTimelineEvent>)[new NewTimelineEvent(now, "worker:" + workerId, TimelineKinds.RunReleased, TimelineData.Of(("reason", "worker shutting down")))])).ToList()).ConfigureAwait(false);
                db.Wakes.UnionWith(released.Select(r => r.Queue));
                if (activities.Count > 0)
                {
                    var queues = await db.QueryAsync(
                        """
                        UPDATE steps SET lease_expires_at = @now
                        FROM unnest(@runs, @seqs) AS a(run_id, seq)
                        WHERE steps.run_id = a.run_id AND steps.seq = a.seq AND steps.status = 'running' AND steps.lease_owner = @w
                        RETURNING steps.queue
                        """,
                        r => Str(r, 0),
                        Db.P("now", now),
                        Db.P("runs", activities.Select(a => a.RunId).ToArray()),
                        Db.P("seqs", activities.Select(a => (long)a.Sequence).ToArray()),
                        Db.P("w", workerId)).ConfigureAwait(false);
                    db.Wakes.UnionWith(queues.OfType<string>());
                }

                return true;
            },
            cancellationToken);
    }

    /// <summary>
    /// A claim in a transaction of its own on a pooled connection, beside the writers' groups rather than in one. A
    /// claim locks only rows no commit of this process holds (ready runs, expired leases, queued activities), and
    /// in a group it sent the whole group the transactional way (seven round trips instead of one) while every
    /// commit queued behind it waited (docs/benchmarks.md). Retried with backoff while nothing of it can have
    /// been applied; a connection lost during its COMMIT is reported as uncertain (the runs it may have leased are
    /// recovered when the lease expires).
    /// </summary>
    private Task<T> ClaimTransactionAsync<T>(Func<Db, Task<T>> claim, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        return WithRetryAsync(
            async () =>
            {
                var db = await Db.OpenAsync(dataSource, System.Data.IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
                await using (db.ConfigureAwait(false))
                {
                    db.Prefix = Db.GenericPlans;
                    var result = await claim(db).ConfigureAwait(false);
                    if (Volatile.Read(ref disposed) != 0)
                    {
                        // The store began closing while this claim was in flight: nothing is claimed (the
                        // transaction rolls back with the connection), so no work waits for a lease to expire.
                        throw new ObjectDisposedException(nameof(PostgresWorkflowStore), "The store was closed while a claim was in flight; nothing was claimed.");
                    }

                    try
                    {
                        await db.Transaction!.CommitAsync(CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (PostgresErrors.IsTransient(ex))
                    {
                        dataSource.Clear();
                        throw new WorkflowStoreException($"The connection to PostgreSQL at {where} broke while committing a claim: it may or may not have been applied ({ex.Message}). Leases make this safe: what it may have claimed is claimed again once the lease expires.", ex);
                    }

                    return result;
                }
            },
            cancellationToken);
    }

    /// <summary>Runs whose lease has expired, longest expired first.</summary>
    internal static readonly string ExpiredRunsSql = ClaimSql("runs", "run_id, status, lease_owner, timeline_seq, timeline_hash", "runs.status = 'running'", "lease_expires_at");

    /// <summary>Runs ready to be claimed (new, woken, or due again), longest due first.</summary>
    internal static readonly string ReadyRunsSql = ClaimSql("runs", "run_id, status, lease_owner, timeline_seq, timeline_hash", "runs.status IN ('ready', 'waiting')", "available_at");

    /// <summary>Activity attempts of live runs whose lease has expired, longest expired first.</summary>
    internal static readonly string ExpiredActivitiesSql = ClaimSql("steps s", "s.run_id, s.seq, s.status, s.lease_owner", $"s.kind = 'activity' AND s.status = 'running' AND {LiveRun}", "lease_expires_at");

    /// <summary>Queued activities of live runs, longest due first.</summary>
    internal static readonly string ReadyActivitiesSql = ClaimSql("steps s", "s.run_id, s.seq, s.status, s.lease_owner", $"s.kind = 'activity' AND s.status = 'queued' AND {LiveRun}", "available_at");

    private const string LiveRun = "EXISTS (SELECT 1 FROM runs r WHERE r.run_id = s.run_id AND r.status NOT IN ('completed', 'failed', 'cancelled'))";

    /// <summary>
    /// A claim that reads only what it takes: for each queue (<c>@q</c>, distinct), an index scan in due order that
    /// stops once it has locked <c>@n</c> rows, then the <c>@n</c> due first of those. Over <c>queue = ANY(@q)</c>
    /// PostgreSQL reads every due row of every queue and sorts them before the limit, so each claim read the whole
    /// backlog: 0.9 ms per claim at 3 000 queued runs, 136 ms at 300 000 (docs/benchmarks.md).
    /// With several queues, rows locked beyond the <c>@n</c> taken stay locked (skipped by other claimers) only
    /// until the claim's transaction ends.
    /// </summary>
    private static string ClaimSql(string table, string columns, string filter, string due)
    {
        var alias = table.Split(' ')[^1];
        return $"""
            SELECT c.* FROM unnest(@q) AS q(name) CROSS JOIN LATERAL (
                SELECT {columns}, {alias}.{due} AS due FROM {table}
                WHERE {filter} AND {alias}.queue = q.name AND {alias}.{due} <= @now
                ORDER BY {alias}.{due} LIMIT @n
                FOR UPDATE OF {alias} SKIP LOCKED) c
            ORDER BY c.due LIMIT @n
            """;
    }

    /// <summary>
    /// Candidates for a claim: those whose lease expired first (a dead worker's work has waited longest, and under
    /// a backlog would otherwise wait behind every new item), then ready ones. Rows another worker is claiming
    /// right now are skipped, not waited for (both queries end in SKIP LOCKED).
    /// </summary>
    private static async Task<List<T>> ExpiredThenReadyAsync<T>(Db db, string expiredSql, string readySql, Func<NpgsqlDataReader, T> map, ClaimRequest request)
    {
        // Distinct: a queue named twice would lock the same rows twice (a transaction does not skip its own locks).
        var queues = request.Queues.Distinct(StringComparer.Ordinal).ToArray();
        var candidates = await db.QueryAsync(expiredSql, map, Db.P("q", queues), Db.P("now", request.Now), Db.P("n", request.MaxCount)).ConfigureAwait(false);
        if (candidates.Count < request.MaxCount)
        {
            candidates.AddRange(await db.QueryAsync(readySql, map, Db.P("q", queues), Db.P("now", request.Now), Db.P("n", request.MaxCount - candidates.Count)).ConfigureAwait(false));
        }

        return candidates;
    }

    /// <summary>
    /// A worker's commit in two round trips: the fencing check, which also locks the run and reads its timeline
    /// head; then every write at once. Checks on the second (a step position taken, a signal consumed) throw,
    /// and the caller's savepoint or transaction undoes all of it.
    /// </summary>
    private async Task ApplyCommitAsync(Db db, RunCommit commit)
    {
        List<(string Queue, long Seq, string Hash, bool Fenced)> rows;
        var running = RunningStepOf(commit);
        if (commit.FencedStep is { } fs)
        {
            rows = await db.QueryAsync(
                """
                WITH f AS (
                    UPDATE steps SET lease_expires_at = lease_expires_at
                    WHERE run_id = @run AND seq = @seq AND status = 'running' AND lease_owner = @w AND attempt = @a
                    RETURNING 1)
                SELECT queue, timeline_seq, timeline_hash, EXISTS (SELECT 1 FROM f) FROM runs WHERE run_id = @run FOR UPDATE
                """,
                r => (r.GetString(0), r.GetInt64(1), r.GetString(2), r.GetBoolean(3)),
                Db.P("run", commit.RunId),
                Db.P("seq", fs.Sequence),
                Db.P("w", commit.Owner),
                Db.P("a", fs.Attempt)).ConfigureAwait(false);
            if (rows.Count == 0 || !rows[0].Fenced)
            {
                throw new LeaseLostException($"Worker {commit.Owner} no longer holds attempt {fs.Attempt} of step {fs.Sequence} of run {commit.RunId}: another worker took it over after the lease expired. Its outcome was not applied.");
            }
        }
        else
        {
            rows = await db.QueryAsync(
                """
                UPDATE runs SET updated_at = @now, lease_expires_at = CASE WHEN lease_expires_at < @now + (@ext - @now) / 2 THEN @ext ELSE lease_expires_at END,
                    running_step = CASE WHEN @touch THEN @held ELSE running_step END
                WHERE run_id = @id AND status = 'running' AND lease_owner = @w RETURNING queue, timeline_seq, timeline_hash, true
                """,
                r => (r.GetString(0), r.GetInt64(1), r.GetString(2), r.GetBoolean(3)),
                Db.P("now", commit.Now),
                Db.P("ext", commit.ExtendLeaseTo),
                Db.P("touch", running.Touch),
                Db.P("held", running.Json),
                Db.P("id", commit.RunId),
                Db.P("w", commit.Owner)).ConfigureAwait(false);
            if (rows.Count != 1)
            {
                throw new LeaseLostException($"Worker {commit.Owner} no longer holds the lease of run {commit.RunId}: another worker took it over after the lease expired, or the run ended. The write was not applied.");
            }
        }

        var head = rows[0];
        var commands = new List<(string Sql, NpgsqlParameter[] Parameters)>();
        var mustTouchOne = new List<(int Index, string Problem)>();
        foreach (var write in StepRows(commit, running))
        {
            var s = write.Step;
            var (input, inputRef, output, outputRef) = StepPayloads(s, commands);

            NpgsqlParameter[] ps =
            [
                Db.P("run", commit.RunId), Db.P("seq", s.Sequence), Db.P("name", s.Name), Db.P("kind", s.Kind.ToStoredName()), Db.P("status", s.Status.ToStoredName()),
                Db.P("attempt", s.Attempt), Db.P("queue", s.Queue), Db.P("activity", s.Activity), Db.P("input", input), Db.P("inref", inputRef), Db.P("output", output), Db.P("outref", outputRef),
                Db.P("ek", s.ErrorKind), Db.P("em", s.ErrorMessage), Db.P("options", s.Options), Db.P("avail", s.AvailableAt),
                Db.P("started", s.StartedAt), Db.P("completed", s.CompletedAt), Db.P("lo", s.LeaseOwner), Db.P("le", s.LeaseExpiresAt),
            ];
            if (write.IsNew)
            {
                mustTouchOne.Add((commands.Count, $"Position {s.Sequence} of run {commit.RunId} was already recorded by another worker (primary-key conflict on the step insert): worker {commit.Owner} lost the run. The write was not applied."));
                commands.Add((
                    """
                    INSERT INTO steps (run_id, seq, name, kind, status, attempt, queue, activity, input, input_ref, output, output_ref, error_kind, error_message, options, available_at, started_at, completed_at, lease_owner, lease_expires_at)
                    VALUES (@run, @seq, @name, @kind, @status, @attempt, @queue, @activity, @input, @inref, @output, @outref, @ek, @em, @options, @avail, @started, @completed, @lo, @le)
                    ON CONFLICT (run_id, seq) DO NOTHING
                    """,
                    ps));
            }
            else
            {
                // An upsert: a step that was held on the run's row while it ran has no steps row yet.
                commands.Add((
                    $"""
                    INSERT INTO steps ({StepColumns.Names})
                    VALUES (@run, @seq, @name, @kind, @status, @attempt, @queue, @activity, @input, @inref, @output, @outref, @ek, @em, @options, @avail, @started, @completed, @lo, @le)
                    {StepColumns.Upsert}
                    """,
                    ps));
            }

            if (s.Kind == StepKind.Activity && s.Status == StepStatus.Queued && s.Queue is not null)
            {
                db.Wakes.Add(s.Queue);
            }
        }

        foreach (var (signalId, seq) in commit.ConsumedSignals)
        {
            mustTouchOne.Add((commands.Count, $"Signal {signalId} of run {commit.RunId} was already consumed by another execution. The write was not applied."));
            commands.Add(("UPDATE signals SET consumed_seq = @seq WHERE id = @id AND run_id = @run AND consumed_seq IS NULL", [Db.P("seq", seq), Db.P("id", signalId), Db.P("run", commit.RunId)]));
        }

        var timeline = PlanTimeline([(commit.RunId, head.Seq, head.Hash, commit.Events)]);
        if (timeline is not null)
        {
            commands.Add(timeline.Insert);
            commands.Add(timeline.MoveHeads);
        }

        if (commit.WakeRun)
        {
            commands.Add((WakeSql, [Db.P("now", commit.Now), Db.P("id", commit.RunId)]));
            db.Wakes.Add(head.Queue);
        }

        var becameReady = -1;
        if (commit.Transition is { } t)
        {
            switch (t.Status)
            {
                case RunStatus.Waiting:
                    // If an event arrived since the worker loaded the history, the run goes back to ready so it is not lost.
                    commands.Add((
                        "UPDATE runs SET status = 'waiting', available_at = @avail, lease_owner = NULL, lease_expires_at = NULL, updated_at = @now WHERE run_id = @id AND wake_count = @seen",
                        [Db.P("seen", t.SeenWakeCount), Db.P("avail", t.AvailableAt), Db.P("now", commit.Now), Db.P("id", commit.RunId)]));
                    becameReady = commands.Count;
                    commands.Add((
                        "UPDATE runs SET status = 'ready', available_at = @now, lease_owner = NULL, lease_expires_at = NULL, updated_at = @now WHERE run_id = @id AND wake_count <> @seen",
                        [Db.P("seen", t.SeenWakeCount), Db.P("now", commit.Now), Db.P("id", commit.RunId)]));
                    break;
                case RunStatus.Ready:
                    commands.Add((
                        "UPDATE runs SET status = 'ready', available_at = @avail, lease_owner = NULL, lease_expires_at = NULL, updated_at = @now WHERE run_id = @id",
                        [Db.P("avail", t.AvailableAt ?? commit.Now), Db.P("now", commit.Now), Db.P("id", commit.RunId)]));
                    db.Wakes.Add(head.Queue);
                    break;
                case RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled:
                    var (output, outputRef, storeOutput) = Payload(t.Output);
                    if (storeOutput is { } so)
                    {
                        commands.Add(so);
                    }

                    commands.Add((
                        "UPDATE runs SET status = @s, output = @out, output_ref = @outref, error_kind = @ek, error_message = @em, completed_at = @now, available_at = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = @now WHERE run_id = @id",
                        [Db.P("s", t.Status.ToStoredName()), Db.P("out", output), Db.P("outref", outputRef), Db.P("ek", t.ErrorKind), Db.P("em", t.ErrorMessage), Db.P("now", commit.Now), Db.P("id", commit.RunId)]));

                    // An activity still queued for another queue ends with its run: off the queue, and not run later.
                    commands.Add((EndQueuedActivitiesSql, [Db.P("ids", new[] { commit.RunId }), Db.P("now", commit.Now)]));
                    db.Ended.Add(commit.RunId);
                    break;
                default:
                    throw new InvalidOperationException($"A worker cannot move run {commit.RunId} to {t.Status}.");
            }
        }

        if (commit.FencedStep is null && commit.Transition is null)
        {
            var (_, seq, hash) = timeline?.Heads[0] ?? (commit.RunId, head.Seq, head.Hash);
            RememberHead(commit.RunId, seq, hash, head.Queue);
        }
        else
        {
            ForgetHead(commit.RunId);
        }

        if (commands.Count == 0)
        {
            return;
        }

        var affected = await db.BatchAsync(commands).ConfigureAwait(false);
        foreach (var (index, problem) in mustTouchOne)
        {
            if (affected[index] != 1)
            {
                throw new LeaseLostException(problem);
            }
        }

        if (becameReady >= 0 && affected[becameReady] == 1)
        {
            db.Wakes.Add(head.Queue);
        }
    }
}
