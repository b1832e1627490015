using System.Collections.Concurrent;
using Npgsql;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres;

/// <content>
/// Group commit of many runs' worker commits as multi-row statements. A worker commit usually goes to a run
/// whose timeline head this process wrote last (its claim, or its previous commit). For those, the fencing check
/// needs no read: one statement checks every run of the group at once (still leased to its writer, head
/// unchanged), moves the heads and renews the leases, and raises if any run differs; the steps, signals, events
/// and status changes of all of them follow as a handful of multi-row statements in the same round trip. If the
/// check or any write is refused, the group's savepoint undoes all of it and its commits go the slow way, one by
/// one, which reads each head and reports each refusal precisely.
/// </content>
public sealed partial class PostgresWorkflowStore
{
    /// <summary>At most this many heads are remembered; past it the memory starts again (a forgotten head only costs one slow commit).</summary>
    private const int MaxRememberedHeads = 100_000;

    private readonly ConcurrentDictionary<string, RunHead> runHeads = new(StringComparer.Ordinal);

    /// <summary>Remembers the timeline head a write of this process left on a run it holds.</summary>
    private void RememberHead(string runId, long seq, string hash, string queue)
    {
        if (runHeads.Count >= MaxRememberedHeads)
        {
            runHeads.Clear();
        }

        runHeads[runId] = new RunHead(seq, hash, queue);
    }

    private void ForgetHead(string runId) => runHeads.TryRemove(runId, out _);

    /// <summary>
    /// The commits of a batch that can go together: run-lease commits of distinct runs with a remembered head and a
    /// status change a worker may make (any other is refused by the slow way, for that commit alone).
    /// </summary>
    private List<CommitOperation> BulkCandidates(List<WriteOperation> pending)
    {
        var candidates = new List<CommitOperation>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var twice = new HashSet<string>(StringComparer.Ordinal);
        foreach (var op in pending)
        {
            if (op is CommitOperation { Commit: var c } && !seen.Add(c.RunId))
            {
                twice.Add(c.RunId);
            }
        }

        foreach (var op in pending)
        {
            if (op is CommitOperation { Commit: { FencedStep: null, WakeRun: false, Transition: null or { Status: RunStatus.Waiting or RunStatus.Ready or RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled } } c } commit
                && !twice.Contains(c.RunId) && runHeads.ContainsKey(c.RunId))
            {
                candidates.Add(commit);
            }
        }

        return candidates;
    }

    /// <summary>
    /// A batch made only of commits that can go together is its own transaction: one round trip, no BEGIN or
    /// COMMIT (the statements of one protocol sync form an implicit transaction, committed when the last one
    /// succeeds, undone entirely when one fails). Returns false when some commits are left to the transactional
    /// way: the fast way was refused (nothing applied), or the connection broke and a commit was found not applied.
    /// </summary>
    private async Task<bool> TryOneRoundTripAsync(List<CommitOperation> ops)
    {
        var db = await Db.OpenAsync(dataSource, null, stopping.Token).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var wakes = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                if (!await TryBulkAsync(db, ops, wakes, []).ConfigureAwait(false))
                {
                    return false;
                }
            }
            catch (Exception ex) when (PostgresErrors.IsTransient(ex) && !stopping.IsCancellationRequested)
            {
                // Sent, but did it commit? Each commit's events end its run's chain at a hash only it can produce.
                Interlocked.Increment(ref transientFailures);
                dataSource.Clear();
                return await ResolveUncertainAsync(ops, ex).ConfigureAwait(false);
            }

            Interlocked.Increment(ref transactions);
            Interlocked.Add(ref groupedCommits, ops.Count);
            foreach (var op in ops)
            {
                op.Complete();
            }

            if (wakes.Count > 0)
            {
                // Waiting runs an event made ready again: a wake-up hint after the commit (workers poll anyway).
                try
                {
                    await db.ExecAsync("SELECT pg_notify(@c, q) FROM unnest(@qs) AS q", Db.P("c", channel), Db.P("qs", wakes.ToArray())).ConfigureAwait(false);
                }
                catch (Exception ex) when (PostgresErrors.IsTransient(ex))
                {
                    dataSource.Clear();
                }
            }

            return true;
        }
    }

    /// <summary>
    /// After the connection broke during a one-round-trip group: completes the commits whose run's head is the
    /// one they wrote, leaves those whose head is unchanged to be applied again, and fails the others as uncertain.
    /// </summary>
    private async Task<bool> ResolveUncertainAsync(List<CommitOperation> ops, Exception broken)
    {
        WorkflowStoreException Uncertain() => new($"The connection to PostgreSQL at {where} broke while committing: the write may or may not have been applied ({broken.Message}). Leases make this safe: a run whose write is uncertain is resumed from what the database holds.", broken);
        List<(string Id, long Seq, string Hash)> heads;
        try
        {
            heads = await ReadAsync(
                db => db.QueryAsync(
                    "SELECT run_id, timeline_seq, timeline_hash FROM runs WHERE run_id = ANY(@ids)",
                    r => (r.GetString(0), r.GetInt64(1), r.GetString(2)),
                    Db.P("ids", ops.Select(o => o.Commit.RunId).ToArray())),
                CancellationToken.None).ConfigureAwait(false);
        }
        catch (WorkflowStoreException)
        {
            foreach (var op in ops)
            {
                ForgetHead(op.Commit.RunId);
                op.Fail(Uncertain());
            }

            return true;
        }

        var now = heads.ToDictionary(h => h.Id, h => (h.Seq, h.Hash), StringComparer.Ordinal);
        var allDecided = true;
        foreach (var op in ops)
        {
            // A commit without events leaves no trace in the head: its outcome cannot be told.
            var planned = op.Planned!.Value;
            var found = now.TryGetValue(op.Commit.RunId, out var h) ? h : default;
            if (planned.NewSeq != planned.OldSeq && found == (planned.NewSeq, planned.NewHash))
            {
                // Applied: the head it wrote is the one to build on (else the next commit would be refused the fast way).
                if (op.Commit.Transition is null && runHeads.TryGetValue(op.Commit.RunId, out var old))
                {
                    RememberHead(op.Commit.RunId, planned.NewSeq, planned.NewHash, old.Queue);
                }
                else
                {
                    ForgetHead(op.Commit.RunId);
                }

                Interlocked.Increment(ref groupedCommits);
                op.Complete();
            }
            else if (planned.NewSeq != planned.OldSeq && found == (planned.OldSeq, planned.OldHash))
            {
                allDecided = false; // not applied: the transactional way applies it
            }
            else
            {
                ForgetHead(op.Commit.RunId);
                op.Fail(Uncertain());
            }
        }

        return allDecided;
    }

    /// <summary>
    /// Applies the commits in one round trip, with the notifications of the whole transaction: inside a savepoint
    /// when <paramref name="session"/> has a transaction, else as an implicit transaction of its own. Returns false
    /// (and nothing of it applied) when the fast way was refused.
    /// </summary>
    private async Task<bool> TryBulkAsync(Db session, List<CommitOperation> ops, HashSet<string> wakes, HashSet<string> ended)
    {
        var heads = new List<(CommitOperation Op, RunHead Head)>(ops.Count);
        foreach (var op in ops)
        {
            if (!runHeads.TryGetValue(op.Commit.RunId, out var head))
            {
                return false;
            }

            heads.Add((op, head));
        }

        heads.Sort((a, b) => string.CompareOrdinal(a.Op.Commit.RunId, b.Op.Commit.RunId)); // one lock order for every writer
        foreach (var (op, _) in heads)
        {
            op.Running = RunningStepOf(op.Commit);
        }

        var plan = PlanTimeline(heads.Select(h => (h.Op.Commit.RunId, h.Head.Seq, h.Head.Hash, h.Op.Commit.Events)).ToList());
        var newHeads = (plan?.Heads ?? []).ToDictionary(h => h.RunId, h => (h.Seq, h.Hash), StringComparer.Ordinal);
        (long Seq, string Hash) NewHead(CommitOperation op, RunHead old) => newHeads.TryGetValue(op.Commit.RunId, out var h) ? h : (old.Seq, old.Hash);

        // A group of one without a status change is all statements that keep their generic plan (the commit of
        // nearly every step at concurrency 1): the SET would only cost its round of parse and execute there.
        var commands = new List<(string Sql, NpgsqlParameter[] Parameters)>();
        if (heads.Count > 1 || heads.Exists(h => h.Op.Commit.Transition is not null))
        {
            commands.Add((Db.GenericPlans, []));
        }

        commands.Add(FencingCheck(heads, NewHead));
        var txWakes = new HashSet<string>(wakes, StringComparer.Ordinal);
        var txEnded = new HashSet<string>(ended, StringComparer.Ordinal);
        AddStepWrites(heads, commands, txWakes);
        if (plan is not null)
        {
            commands.Add(plan.Insert);
        }

        var waitIndex = AddTransitions(heads, commands, txWakes, txEnded);
        if (txWakes.Count > 0)
        {
            commands.Add(("SELECT pg_notify(@c, q) FROM unnest(@qs) AS q", [Db.P("c", channel), Db.P("qs", txWakes.ToArray())]));
        }

        if (txEnded.Count > 0)
        {
            commands.Add(("SELECT pg_notify(@c, id) FROM unnest(@ids) AS id", [Db.P("c", endedChannel), Db.P("ids", txEnded.ToArray())]));
        }

        foreach (var (op, head) in heads)
        {
            var (seq, hash) = NewHead(op, head);
            op.Planned = (head.Seq, head.Hash, seq, hash);
        }

        var db = new Db(session.Connection, session.Transaction) { Prefix = session.Transaction is null ? null : "SAVEPOINT bulk" };
        try
        {
            var affected = await db.BatchAsync(commands).ConfigureAwait(false);

            // Sent with the batch; a waiting run that an event made ready again wakes its queue after it.
            wakes.Clear();
            ended.Clear();
            if (waitIndex >= 0 && affected[waitIndex] > 0)
            {
                wakes.UnionWith(heads.Where(h => h.Op.Commit.Transition?.Status == RunStatus.Waiting).Select(h => h.Head.Queue));
            }
        }
        catch (PostgresException ex) when (PostgresErrors.IsStatementLevel(ex) || ex.SqlState is "40P01" or "40001")
        {
            if (db.PrefixSent)
            {
                await session.ExecAsync("ROLLBACK TO SAVEPOINT bulk").ConfigureAwait(false);
            }

            foreach (var (op, _) in heads)
            {
                ForgetHead(op.Commit.RunId);
            }

            return false;
        }

        foreach (var (op, head) in heads)
        {
            if (op.Commit.Transition is null)
            {
                var (seq, hash) = NewHead(op, head);
                RememberHead(op.Commit.RunId, seq, hash, head.Queue);
            }
            else
            {
                ForgetHead(op.Commit.RunId);
            }
        }

        return true;
    }

    /// <summary>
    /// The fencing check of every run of the group at once (still leased to its writer, head unchanged); it moves
    /// the heads and renews a lease once half of it is gone, and raises unless every run matched. A group of one
    /// (every commit at concurrency 1) has a statement of its own with plain values: PostgreSQL plans a statement
    /// over arrays anew for every call (its cost depends on their length), which cost a tenth of a millisecond per
    /// commit, while a statement over single values keeps one plan (docs/benchmarks.md).
    /// </summary>
    private static (string Sql, NpgsqlParameter[] Parameters) FencingCheck(List<(CommitOperation Op, RunHead Head)> heads, Func<CommitOperation, RunHead, (long Seq, string Hash)> newHead)
    {
        // (status || '' keeps the plan on the primary key rather than an index of every running run.)
        if (heads is [var (op, head)])
        {
            var (seq, hash) = newHead(op, head);
            return (
                """
                WITH f AS (
                    UPDATE runs SET timeline_seq = @new_seq, timeline_hash = @new_hash, updated_at = @now,
                        lease_expires_at = CASE WHEN lease_expires_at < @now + (@ext - @now) / 2 THEN @ext ELSE lease_expires_at END,
                        running_step = CASE WHEN @touch THEN @held ELSE running_step END
                    WHERE run_id = @id AND status || '' = 'running' AND lease_owner = @owner AND timeline_seq = @seq AND timeline_hash = @hash
                    RETURNING 1)
                SELECT expect_rows(count(*), 1) FROM f
                """,
                [
                    Db.P("id", op.Commit.RunId), Db.P("owner", op.Commit.Owner), Db.P("seq", head.Seq), Db.P("hash", head.Hash),
                    Db.P("new_seq", seq), Db.P("new_hash", hash), Db.P("now", op.Commit.Now), Db.P("ext", op.Commit.ExtendLeaseTo),
                    Db.P("touch", op.Running.Touch), Db.P("held", op.Running.Json),
                ]);
        }

        return (
            """
            WITH f AS (
                UPDATE runs SET timeline_seq = f.new_seq, timeline_hash = f.new_hash, updated_at = f.now,
                    lease_expires_at = CASE WHEN runs.lease_expires_at < f.now + (f.ext - f.now) / 2 THEN f.ext ELSE runs.lease_expires_at END,
                    running_step = CASE WHEN f.touch THEN f.held ELSE runs.running_step END
                FROM unnest(@ids, @owners, @seqs, @hashes, @newseqs, @newhashes, @nows, @exts, @touches, @helds) AS f(id, owner, seq, hash, new_seq, new_hash, now, ext, touch, held)
                WHERE runs.run_id = f.id AND runs.status || '' = 'running' AND runs.lease_owner = f.owner AND runs.timeline_seq = f.seq AND runs.timeline_hash = f.hash
                RETURNING 1)
            SELECT expect_rows(count(*), @n) FROM f
            """,
            [
                Db.P("ids", heads.Select(h => h.Op.Commit.RunId).ToArray()),
                Db.P("owners", heads.Select(h => h.Op.Commit.Owner).ToArray()),
                Db.P("seqs", heads.Select(h => h.Head.Seq).ToArray()),
                Db.P("hashes", heads.Select(h => h.Head.Hash).ToArray()),
                Db.P("newseqs", heads.Select(h => newHead(h.Op, h.Head).Seq).ToArray()),
                Db.P("newhashes", heads.Select(h => newHead(h.Op, h.Head).Hash).ToArray()),
                Db.P("nows", heads.Select(h => h.Op.Commit.Now).ToArray()),
                Db.P("exts", heads.Select(h => h.Op.Commit.ExtendLeaseTo).ToArray()),
                Db.P("touches", heads.Select(h => h.Op.Running.Touch).ToArray()),
                Db.P("helds", heads.Select(h => h.Op.Running.Json).ToArray()!),
                Db.P("n", (long)heads.Count),
            ]);
    }

    /// <summary>Adds the group's payloads, step inserts and updates, and signal consumptions (a step insert raises unique_violation, a consumption RB002, when its row was already written).</summary>
    private void AddStepWrites(List<(CommitOperation Op, RunHead Head)> heads, List<(string Sql, NpgsqlParameter[] Parameters)> commands, HashSet<string> wakes)
    {
        var inserts = new StepColumns();
        var updates = new StepColumns();
        var signalIds = new List<long>();
        var signalSeqs = new List<long>();
        var signalRuns = new List<string>();
        foreach (var (op, _) in heads)
        {
            foreach (var write in StepRows(op.Commit, op.Running))
            {
                var s = write.Step;
                var (input, inputRef, output, outputRef) = StepPayloads(s, commands);
                (write.IsNew ? inserts : updates).Add(op.Commit.RunId, s, input, inputRef, output, outputRef);
                if (s.Kind == StepKind.Activity && s.Status == StepStatus.Queued && s.Queue is not null)
                {
                    wakes.Add(s.Queue);
                }
            }

            foreach (var (signalId, seq) in op.Commit.ConsumedSignals)
            {
                signalIds.Add(signalId);
                signalSeqs.Add(seq);
                signalRuns.Add(op.Commit.RunId);
            }
        }

        if (inserts.Count > 0)
        {
            // A plain insert: a row already written raises unique_violation, which undoes the group like RB002.
            // (ON CONFLICT DO NOTHING would insert speculatively: one more WAL record and index probe per row.)
            commands.Add((
                $"INSERT INTO steps ({StepColumns.Names}) SELECT * FROM unnest({StepColumns.Parameters})",
                inserts.ToParameters()));
        }

        if (updates.Count > 0)
        {
            // An upsert: each existing row is found through the primary key (the conflict arbiter) whatever plan
            // the statistics of a young table would suggest for a join, and a step that was held on its run's row
            // while it ran (PostgresWorkflowStore.RunningStep.cs) has no row yet: it is inserted.
            commands.Add((
                $"""
                INSERT INTO steps ({StepColumns.Names})
                SELECT * FROM unnest({StepColumns.Parameters})
                {StepColumns.Upsert}
                """,
                updates.ToParameters()));
        }

        if (signalIds.Count > 0)
        {
            commands.Add((
                """
                WITH u AS (
                    UPDATE signals SET consumed_seq = u.seq FROM unnest(@ids, @seqs, @runs) AS u(id, seq, run)
                    WHERE signals.id = u.id AND signals.run_id = u.run AND signals.consumed_seq IS NULL
                    RETURNING 1)
                SELECT expect_rows(count(*), @expected) FROM u
                """,
                [Db.P("ids", signalIds.ToArray()), Db.P("seqs", signalSeqs.ToArray()), Db.P("runs", signalRuns.ToArray()), Db.P("expected", (long)signalIds.Count)]));
        }
    }

    /// <summary>Adds the group's status changes; returns the index of the statement that makes waiting runs with news ready again, or -1.</summary>
    private int AddTransitions(List<(CommitOperation Op, RunHead Head)> heads, List<(string Sql, NpgsqlParameter[] Parameters)> commands, HashSet<string> wakes, HashSet<string> ended)
    {
        var finished = heads.Where(h => h.Op.Commit.Transition?.Status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled).ToList();
        var ready = heads.Where(h => h.Op.Commit.Transition?.Status == RunStatus.Ready).ToList();
        var waiting = heads.Where(h => h.Op.Commit.Transition?.Status == RunStatus.Waiting).ToList();
        if (finished.Count > 0)
        {
            var outputs = new List<string?>();
            var refs = new List<string?>();
            foreach (var (op, _) in finished)
            {
                var (output, outputRef, storeOutput) = Payload(op.Commit.Transition!.Output);
                if (storeOutput is { } so)
                {
                    commands.Add(so);
                }

                outputs.Add(output);
                refs.Add(outputRef);
                ended.Add(op.Commit.RunId);
            }

            commands.Add((
                """
                UPDATE runs SET status = u.status, output = u.output, output_ref = u.output_ref, error_kind = u.ek, error_message = u.em, completed_at = u.now,
                    available_at = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = u.now
                FROM unnest(@ids, @statuses, @outputs, @refs, @eks, @ems, @nows) AS u(id, status, output, output_ref, ek, em, now)
                WHERE runs.run_id = u.id
                """,
                [
                    Db.P("ids", finished.Select(h => h.Op.Commit.RunId).ToArray()),
                    Db.P("statuses", finished.Select(h => h.Op.Commit.Transition!.Status.ToStoredName()).ToArray()),
                    Db.P("outputs", outputs.ToArray()!),
                    Db.P("refs", refs.ToArray()!),
                    Db.P("eks", finished.Select(h => h.Op.Commit.Transition!.ErrorKind).ToArray()!),
                    Db.P("ems", finished.Select(h => h.Op.Commit.Transition!.ErrorMessage).ToArray()!),
                    Db.P("nows", finished.Select(h => h.Op.Commit.Now).ToArray()),
                ]));
            commands.Add((EndQueuedActivitiesSql, [Db.P("ids", finished.Select(h => h.Op.Commit.RunId).ToArray()), Db.P("now", finished.Max(h => h.Op.Commit.Now))]));
        }

        if (ready.Count > 0)
        {
            commands.Add((
                """
                UPDATE runs SET status = 'ready', available_at = u.avail, lease_owner = NULL, lease_expires_at = NULL, updated_at = u.now
                FROM unnest(@ids, @avails, @nows) AS u(id, avail, now) WHERE runs.run_id = u.id
                """,
                [
                    Db.P("ids", ready.Select(h => h.Op.Commit.RunId).ToArray()),
                    Db.P("avails", ready.Select(h => h.Op.Commit.Transition!.AvailableAt ?? h.Op.Commit.Now).ToArray()),
                    Db.P("nows", ready.Select(h => h.Op.Commit.Now).ToArray()),
                ]));
            wakes.UnionWith(ready.Select(h => h.Head.Queue));
        }

        if (waiting.Count == 0)
        {
            return -1;
        }

        // If an event arrived since the worker loaded the history, the run goes back to ready so it is not lost.
        NpgsqlParameter[] Waiting() =>
        [
            Db.P("ids", waiting.Select(h => h.Op.Commit.RunId).ToArray()),
            Db.P("seens", waiting.Select(h => h.Op.Commit.Transition!.SeenWakeCount).ToArray()),
            Db.P("avails", waiting.Select(h => h.Op.Commit.Transition!.AvailableAt).ToArray()),
            Db.P("nows", waiting.Select(h => h.Op.Commit.Now).ToArray()),
        ];
        commands.Add((
            """
            UPDATE runs SET status = 'waiting', available_at = u.avail, lease_owner = NULL, lease_expires_at = NULL, updated_at = u.now
            FROM unnest(@ids, @seens, @avails, @nows) AS u(id, seen, avail, now) WHERE runs.run_id = u.id AND runs.wake_count = u.seen
            """,
            Waiting()));
        commands.Add((
            """
            UPDATE runs SET status = 'ready', available_at = u.now, lease_owner = NULL, lease_expires_at = NULL, updated_at = u.now
            FROM unnest(@ids, @seens, @avails, @nows) AS u(id, seen, avail, now) WHERE runs.run_id = u.id AND runs.wake_count <> u.seen
            """,
            Waiting()));
        return commands.Count - 1;
    }

    /// <summary>A run's timeline head as this process last wrote it, and the run's queue.</summary>
    private readonly record struct RunHead(long Seq, string Hash, string Queue);

    /// <summary>A worker commit in the write queue; it can join a multi-row group.</summary>
    private sealed class CommitOperation(RunCommit commit, Func<Db, Task<bool>> work) : WriteOperation<bool>(work)
    {
        public RunCommit Commit => commit;

        /// <summary>Gets or sets a value indicating whether the commit went in a multi-row group.</summary>
        public bool Grouped { get; set; }

        /// <summary>Gets or sets how the commit changes the inline step held on its run's row.</summary>
        public RunningStepChange Running { get; set; }

        /// <summary>Gets or sets the run's timeline head before and after this commit, as planned by its group.</summary>
        public (long OldSeq, string OldHash, long NewSeq, string NewHash)? Planned { get; set; }
    }

    /// <summary>The columns of many step rows, as one array per column for <c>unnest</c>.</summary>
    private sealed class StepColumns
    {
        public const string Names = "run_id, seq, name, kind, status, attempt, queue, activity, input, input_ref, output, output_ref, error_kind, error_message, options, available_at, started_at, completed_at, lease_owner, lease_expires_at";

        /// <summary>Makes an insert of step rows replace the rows that exist (every column but the key).</summary>
        public const string Upsert = """
            ON CONFLICT (run_id, seq) DO UPDATE SET name = excluded.name, kind = excluded.kind, status = excluded.status, attempt = excluded.attempt,
                queue = excluded.queue, activity = excluded.activity, input = excluded.input, input_ref = excluded.input_ref, output = excluded.output,
                output_ref = excluded.output_ref, error_kind = excluded.error_kind, error_message = excluded.error_message, options = excluded.options,
                available_at = excluded.available_at, started_at = excluded.started_at, completed_at = excluded.completed_at,
                lease_owner = excluded.lease_owner, lease_expires_at = excluded.lease_expires_at
            """;

        public const string Parameters = "@run_id, @seq::int[], @name, @kind, @status, @attempt::int[], @queue, @activity, @input, @input_ref, @output, @output_ref, @error_kind, @error_message, @options, @available_at, @started_at, @completed_at, @lease_owner, @lease_expires_at";

        private readonly List<string> runIds = [];
        private readonly List<long> seqs = [];
        private readonly List<string> names = [];
        private readonly List<string> kinds = [];
        private readonly List<string> statuses = [];
        private readonly List<long> attempts = [];
        private readonly List<string?> queues = [];
        private readonly List<string?> activities = [];
        private readonly List<string?> inputs = [];
        private readonly List<string?> inputRefs = [];
        private readonly List<string?> outputs = [];
        private readonly List<string?> outputRefs = [];
        private readonly List<string?> errorKinds = [];
        private readonly List<string?> errorMessages = [];
        private readonly List<string?> options = [];
        private readonly List<DateTimeOffset?> availableAts = [];
        private readonly List<DateTimeOffset?> startedAts = [];
        private readonly List<DateTimeOffset?> completedAts = [];
        private readonly List<string?> leaseOwners = [];
        private readonly List<DateTimeOffset?> leaseExpiresAts = [];

        public int Count => runIds.Count;

        public void Add(string runId, StepRecord s, string? input, string? inputRef, string? output, string? outputRef)
        {
            runIds.Add(runId);
            seqs.Add(s.Sequence);
            names.Add(s.Name);
            kinds.Add(s.Kind.ToStoredName());
            statuses.Add(s.Status.ToStoredName());
            attempts.Add(s.Attempt);
            queues.Add(s.Queue);
            activities.Add(s.Activity);
            inputs.Add(input);
            inputRefs.Add(inputRef);
            outputs.Add(output);
            outputRefs.Add(outputRef);
            errorKinds.Add(s.ErrorKind);
            errorMessages.Add(s.ErrorMessage);
            options.Add(s.Options);
            availableAts.Add(s.AvailableAt);
            startedAts.Add(s.StartedAt);
            completedAts.Add(s.CompletedAt);
            leaseOwners.Add(s.LeaseOwner);
            leaseExpiresAts.Add(s.LeaseExpiresAt);
        }

        public NpgsqlParameter[] ToParameters() =>
        [
            Db.P("run_id", runIds.ToArray()), Db.P("seq", seqs.ToArray()), Db.P("name", names.ToArray()), Db.P("kind", kinds.ToArray()),
            Db.P("status", statuses.ToArray()), Db.P("attempt", attempts.ToArray()), Db.P("queue", queues.ToArray()!), Db.P("activity", activities.ToArray()!),
            Db.P("input", inputs.ToArray()!), Db.P("input_ref", inputRefs.ToArray()!), Db.P("output", outputs.ToArray()!), Db.P("output_ref", outputRefs.ToArray()!),
            Db.P("error_kind", errorKinds.ToArray()!), Db.P("error_message", errorMessages.ToArray()!), Db.P("options", options.ToArray()!),
            Db.P("available_at", availableAts.ToArray()), Db.P("started_at", startedAts.ToArray()), Db.P("completed_at", completedAts.ToArray()),
            Db.P("lease_owner", leaseOwners.ToArray()!), Db.P("lease_expires_at", leaseExpiresAts.ToArray()),
        ];
    }
}
