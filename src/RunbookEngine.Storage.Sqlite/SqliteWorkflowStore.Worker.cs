using Microsoft.Data.Sqlite;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite;

/// <content>Claims, fenced commits and leases.</content>
public sealed partial class SqliteWorkflowStore
{
    private const string EndQueuedActivitiesSql =
        "UPDATE steps SET status = 'failed', error_kind = 'RunEnded', error_message = 'the run ended before this activity was executed', completed_at = $now, available_at = NULL WHERE run_id = $id AND kind = 'activity' AND status = 'queued'";

    /// <inheritdoc/>
    public Task<IReadOnlyList<QueueBacklog>> BacklogAsync(DateTimeOffset now, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<QueueBacklog>>(
        c => Query(
            c,
            null,
            """
            SELECT queue, 'run', COUNT(*), MIN(available_at) FROM runs
              WHERE status IN ('ready', 'waiting') AND available_at <= $now GROUP BY queue
            UNION ALL
            SELECT queue, 'step', COUNT(*), MIN(available_at) FROM steps s
              WHERE kind = 'activity' AND status = 'queued' AND available_at <= $now
                AND EXISTS (SELECT 1 FROM runs r WHERE r.run_id = s.run_id AND r.status NOT IN ('completed', 'failed', 'cancelled'))
              GROUP BY queue
            ORDER BY 1, 2
            """,
            r => new QueueBacklog(r.GetString(0), r.GetString(1), r.GetInt64(2), SqliteTime.FromDb(r.GetInt64(3))),
            ("$now", SqliteTime.ToDb(now))),
        cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<ClaimedRun>> ClaimRunsAsync(ClaimRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var queues = InList("$q", request.Queues.Count);
        var select = $"""
            SELECT run_id, status, lease_owner, available_at AS t FROM runs
              WHERE status IN ('ready', 'waiting') AND queue IN ({queues}) AND available_at <= $now
            UNION ALL
            SELECT run_id, status, lease_owner, lease_expires_at AS t FROM runs
              WHERE status = 'running' AND queue IN ({queues}) AND lease_expires_at <= $now
            ORDER BY t LIMIT $n
            """;
        return WriteAsync<IReadOnlyList<ClaimedRun>>(
            (c, tx) =>
            {
                if (Volatile.Read(ref disposed) != 0)
                {
                    return []; // the store is closing: what is queued is written, but nothing new is claimed
                }

                var now = SqliteTime.ToDb(request.Now);
                var candidates = Query(c, tx, select, r => (Id: r.GetString(0), Status: r.GetString(1), Owner: Str(r, 2)), [.. InParams("$q", request.Queues), ("$now", now), ("$n", request.MaxCount)]);
                var claimed = new List<ClaimedRun>(candidates.Count);
                var expires = SqliteTime.ToDb(request.Now + request.LeaseDuration);
                foreach (var (id, status, previous) in candidates)
                {
                    Exec(c, tx, "UPDATE runs SET status = 'running', lease_owner = $w, lease_expires_at = $exp, updated_at = $now WHERE run_id = $id", ("$w", request.WorkerId), ("$exp", expires), ("$now", now), ("$id", id));
                    var recovered = status == "running";
                    var actor = "worker:" + request.WorkerId;
                    AppendEvents(
                        c,
                        tx,
                        id,
                        [
                            recovered
                                ? new NewTimelineEvent(request.Now, actor, TimelineKinds.RunRecovered, TimelineData.Of(("previous_owner", previous), ("reason", "lease expired")))
                                : new NewTimelineEvent(request.Now, actor, TimelineKinds.RunClaimed, TimelineData.Of(("from", status))),
                        ]);
                    claimed.Add(new ClaimedRun(ReadRun(c, tx, id)!, recovered ? previous : null));
                }

                return claimed;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<ClaimedActivity>> ClaimActivitiesAsync(ClaimRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var queues = InList("$q", request.Queues.Count);
        const string live = "EXISTS (SELECT 1 FROM runs r WHERE r.run_id = s.run_id AND r.status NOT IN ('completed', 'failed', 'cancelled'))";
        var select = $"""
            SELECT run_id, seq, status, lease_owner, available_at AS t FROM steps s
              WHERE kind = 'activity' AND status = 'queued' AND queue IN ({queues}) AND available_at <= $now AND {live}
            UNION ALL
            SELECT run_id, seq, status, lease_owner, lease_expires_at AS t FROM steps s
              WHERE kind = 'activity' AND status = 'running' AND queue IN ({queues}) AND lease_expires_at <= $now AND {live}
            ORDER BY t LIMIT $n
            """;
        return WriteAsync<IReadOnlyList<ClaimedActivity>>(
            (c, tx) =>
            {
                if (Volatile.Read(ref disposed) != 0)
                {
                    return []; // the store is closing: nothing new is claimed
                }

                var now = SqliteTime.ToDb(request.Now);
                var candidates = Query(c, tx, select, r => (Run: r.GetString(0), Seq: r.GetInt32(1), Status: r.GetString(2), Owner: Str(r, 3)), [.. InParams("$q", request.Queues), ("$now", now), ("$n", request.MaxCount)]);
                var claimed = new List<ClaimedActivity>(candidates.Count);
                var expires = SqliteTime.ToDb(request.Now + request.LeaseDuration);
                var actor = "worker:" + request.WorkerId;
                foreach (var (runId, seq, status, previous) in candidates)
                {
                    var step = Query(
                        c,
                        tx,
                        $"UPDATE steps SET status = 'running', attempt = attempt + 1, lease_owner = $w, lease_expires_at = $exp, started_at = COALESCE(started_at, $now) WHERE run_id = $run AND seq = $seq RETURNING {StepColumns}",
                        MapStep,
                        ("$w", request.WorkerId),
                        ("$exp", expires),
                        ("$now", now),
                        ("$run", runId),
                        ("$seq", seq))[0];
                    var recovered = status == "running";
                    var events = new List<NewTimelineEvent>(2);
                    if (recovered)
                    {
                        events.Add(new(request.Now, actor, TimelineKinds.StepInterrupted, TimelineData.Of(("seq", seq), ("step", step.Name), ("attempt", step.Attempt - 1), ("previous_owner", previous))));
                    }

                    events.Add(new(request.Now, actor, TimelineKinds.StepStarted, TimelineData.Of(("seq", seq), ("step", step.Name), ("attempt", step.Attempt), ("activity", step.Activity), ("queue", step.Queue))));
                    AppendEvents(c, tx, runId, events);
                    claimed.Add(new ClaimedActivity(runId, step, recovered ? previous : null));
                }

                return claimed;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task CommitAsync(RunCommit commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        return WriteAsync(
            (c, tx) =>
            {
                ApplyCommit(c, tx, commit);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task<LeaseRenewal> RenewLeasesAsync(string workerId, IReadOnlyCollection<string> runIds, IReadOnlyCollection<(string RunId, int Sequence)> activities, DateTimeOffset until, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runIds);
        ArgumentNullException.ThrowIfNull(activities);
        return WriteAsync(
            (c, tx) =>
            {
                var lost = new List<string>();
                var cancel = new List<string>();
                var lostSteps = new List<(string, int)>();
                var exp = SqliteTime.ToDb(until);
                foreach (var id in runIds)
                {
                    var flag = Scalar(c, tx, "UPDATE runs SET lease_expires_at = $exp WHERE run_id = $id AND status = 'running' AND lease_owner = $w RETURNING cancel_requested", ("$exp", exp), ("$id", id), ("$w", workerId));
                    if (flag is null)
                    {
                        lost.Add(id);
                    }
                    else if (Convert.ToInt64(flag, System.Globalization.CultureInfo.InvariantCulture) != 0)
                    {
                        cancel.Add(id);
                    }
                }

                foreach (var (runId, seq) in activities)
                {
                    if (Exec(c, tx, "UPDATE steps SET lease_expires_at = $exp WHERE run_id = $run AND seq = $seq AND status = 'running' AND lease_owner = $w", ("$exp", exp), ("$run", runId), ("$seq", seq), ("$w", workerId)) == 0)
                    {
                        lostSteps.Add((runId, seq));
                    }
                }

                return new LeaseRenewal(lost, cancel, lostSteps);
            },
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task ReleaseLeasesAsync(string workerId, IReadOnlyCollection<string> runIds, IReadOnlyCollection<(string RunId, int Sequence)> activities, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runIds);
        ArgumentNullException.ThrowIfNull(activities);
        return WriteAsync(
            (c, tx) =>
            {
                var at = SqliteTime.ToDb(now);
                foreach (var id in runIds)
                {
                    if (Exec(c, tx, "UPDATE runs SET lease_expires_at = $now, updated_at = $now WHERE run_id = $id AND status = 'running' AND lease_owner = $w", ("$now", at), ("$id", id), ("$w", workerId)) == 1)
                    {
                        AppendEvents(c, tx, id, [new NewTimelineEvent(now, "worker:" + workerId, TimelineKinds.RunReleased, TimelineData.Of(("reason", "worker shutting down")))]);
                    }
                }

                foreach (var (runId, seq) in activities)
                {
                    Exec(c, tx, "UPDATE steps SET lease_expires_at = $now WHERE run_id = $run AND seq = $seq AND status = 'running' AND lease_owner = $w", ("$now", at), ("$run", runId), ("$seq", seq), ("$w", workerId));
                }

                return true;
            },
            cancellationToken);
    }

    private void ApplyCommit(SqliteConnection c, SqliteTransaction tx, RunCommit commit)
    {
        var now = SqliteTime.ToDb(commit.Now);

        // Fencing: the writer must still hold the lease it writes under.
        if (commit.FencedStep is { } fs)
        {
            if (Exec(c, tx, "UPDATE steps SET lease_expires_at = lease_expires_at WHERE run_id = $run AND seq = $seq AND status = 'running' AND lease_owner = $w AND attempt = $a", ("$run", commit.RunId), ("$seq", fs.Sequence), ("$w", commit.Owner), ("$a", fs.Attempt)) != 1)
            {
                throw new LeaseLostException($"Worker {commit.Owner} no longer holds attempt {fs.Attempt} of step {fs.Sequence} of run {commit.RunId}: another worker took it over after the lease expired. Its outcome was not applied.");
            }
        }
        else if (Exec(c, tx, "UPDATE runs SET updated_at = $now, lease_expires_at = COALESCE($ext, lease_expires_at) WHERE run_id = $id AND status = 'running' AND lease_owner = $w", ("$now", now), ("$ext", SqliteTime.ToDb(commit.ExtendLeaseTo)), ("$id", commit.RunId), ("$w", commit.Owner)) != 1)
        {
            throw new LeaseLostException($"Worker {commit.Owner} no longer holds the lease of run {commit.RunId}: another worker took it over after the lease expired, or the run ended. The write was not applied.");
        }

        foreach (var write in commit.Steps)
        {
            var s = write.Step;
            (string, object?)[] ps =
            [
                ("$run", commit.RunId), ("$seq", s.Sequence), ("$name", s.Name), ("$kind", s.Kind.ToStoredName()), ("$status", s.Status.ToStoredName()),
                ("$attempt", s.Attempt), ("$queue", s.Queue), ("$activity", s.Activity), ("$input", s.Input), ("$output", s.Output),
                ("$ek", s.ErrorKind), ("$em", s.ErrorMessage), ("$options", s.Options), ("$avail", SqliteTime.ToDb(s.AvailableAt)),
                ("$started", SqliteTime.ToDb(s.StartedAt)), ("$completed", SqliteTime.ToDb(s.CompletedAt)), ("$lo", s.LeaseOwner), ("$le", SqliteTime.ToDb(s.LeaseExpiresAt)),
            ];
            if (write.IsNew)
            {
                try
                {
                    Exec(
                        c,
                        tx,
                        $"INSERT INTO steps (run_id, {StepColumns}) VALUES ($run, $seq, $name, $kind, $status, $attempt, $queue, $activity, $input, $output, $ek, $em, $options, $avail, $started, $completed, $lo, $le)",
                        ps);
                }
                catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
                {
                    throw new LeaseLostException($"Position {s.Sequence} of run {commit.RunId} was already recorded by another worker (primary-key conflict on the step insert): worker {commit.Owner} lost the run. The write was not applied.", ex);
                }
            }
            else
            {
                Exec(
                    c,
                    tx,
                    "UPDATE steps SET name = $name, kind = $kind, status = $status, attempt = $attempt, queue = $queue, activity = $activity, input = $input, output = $output, error_kind = $ek, error_message = $em, options = $options, available_at = $avail, started_at = $started, completed_at = $completed, lease_owner = $lo, lease_expires_at = $le WHERE run_id = $run AND seq = $seq",
                    ps);
            }
        }

        foreach (var (signalId, seq) in commit.ConsumedSignals)
        {
            if (Exec(c, tx, "UPDATE signals SET consumed_seq = $seq WHERE id = $id AND run_id = $run AND consumed_seq IS NULL", ("$seq", seq), ("$id", signalId), ("$run", commit.RunId)) != 1)
            {
                throw new LeaseLostException($"Signal {signalId} of run {commit.RunId} was already consumed by another execution. The write was not applied.");
            }
        }

        AppendEvents(c, tx, commit.RunId, commit.Events);

        if (commit.WakeRun)
        {
            Wake(c, tx, commit.RunId, now);
        }

        if (commit.Transition is { } t)
        {
            switch (t.Status)
            {
                case RunStatus.Waiting:
                    // If an event arrived since the worker loaded the history, the run goes back to ready so it is not lost.
                    Exec(
                        c,
                        tx,
                        """
                        UPDATE runs SET
                            status = CASE WHEN wake_count = $seen THEN 'waiting' ELSE 'ready' END,
                            available_at = CASE WHEN wake_count = $seen THEN $avail ELSE $now END,
                            lease_owner = NULL, lease_expires_at = NULL, updated_at = $now
                        WHERE run_id = $id
                        """,
                        ("$seen", t.SeenWakeCount),
                        ("$avail", SqliteTime.ToDb(t.AvailableAt)),
                        ("$now", now),
                        ("$id", commit.RunId));
                    break;
                case RunStatus.Ready:
                    Exec(c, tx, "UPDATE runs SET status = 'ready', available_at = $avail, lease_owner = NULL, lease_expires_at = NULL, updated_at = $now WHERE run_id = $id", ("$avail", SqliteTime.ToDb(t.AvailableAt ?? commit.Now)), ("$now", now), ("$id", commit.RunId));
                    break;
                case RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled:
                    Exec(
                        c,
                        tx,
                        "UPDATE runs SET status = $s, output = $out, error_kind = $ek, error_message = $em, completed_at = $now, available_at = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $now WHERE run_id = $id",
                        ("$s", t.Status.ToStoredName()),
                        ("$out", t.Output),
                        ("$ek", t.ErrorKind),
                        ("$em", t.ErrorMessage),
                        ("$now", now),
                        ("$id", commit.RunId));

                    // An activity still queued for another queue ends with its run: off the queue, and not run later.
                    Exec(c, tx, EndQueuedActivitiesSql, ("$now", now), ("$id", commit.RunId));
                    break;
                default:
                    throw new InvalidOperationException($"A worker cannot move run {commit.RunId} to {t.Status}.");
            }
        }
    }
}
