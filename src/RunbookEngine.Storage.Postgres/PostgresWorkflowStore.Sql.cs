using System.Security.Cryptography;
using System.Text;
using Npgsql;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres;

/// <content>Row mapping, payload references and the hash-chained timeline.</content>
public sealed partial class PostgresWorkflowStore
{
    private const string RunColumns = """
        r.run_id, r.workflow, r.definition_hash, r.queue, r.status, r.idempotency_key,
               COALESCE(r.input, pi.content), COALESCE(r.output, po.content), r.error_kind, r.error_message,
               r.created_by, r.created_at, r.updated_at, r.completed_at, r.available_at, r.lease_owner, r.lease_expires_at,
               r.cancel_requested, r.cancel_requested_by, r.cancel_reason, r.wake_count, r.trace_parent
        """;

    private const string RunFrom = """
        FROM runs r
        LEFT JOIN payloads pi ON pi.hash = r.input_ref
        LEFT JOIN payloads po ON po.hash = r.output_ref
        """;

    private const string RunSelect = $"SELECT {RunColumns} {RunFrom}";

    private const string StepSelectList = """
        s.seq, s.name, s.kind, s.status, s.attempt, s.queue, s.activity,
        COALESCE(s.input, pi.content), COALESCE(s.output, po.content), s.error_kind, s.error_message, s.options,
        s.available_at, s.started_at, s.completed_at, s.lease_owner, s.lease_expires_at
        """;

    private const string StepJoins = """
        LEFT JOIN payloads pi ON pi.hash = s.input_ref
        LEFT JOIN payloads po ON po.hash = s.output_ref
        """;

    /// <summary>Counts an external event on a run and makes it ready if it waits (parameters @now, @id).</summary>
    private const string WakeSql = """
        UPDATE runs SET wake_count = wake_count + 1,
            available_at = CASE WHEN status = 'waiting' THEN @now ELSE available_at END,
            status = CASE WHEN status = 'waiting' THEN 'ready' ELSE status END,
            updated_at = @now
        WHERE run_id = @id
        """;

    private static string? Str(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static DateTimeOffset Time(NpgsqlDataReader r, int i) => r.GetFieldValue<DateTimeOffset>(i);

    private static DateTimeOffset? TimeOrNull(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetFieldValue<DateTimeOffset>(i);

    private static RunRecord MapRun(NpgsqlDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        r.GetString(2),
        r.GetString(3),
        RunStatusExtensions.ParseStoredName(r.GetString(4)),
        Str(r, 5),
        Str(r, 6),
        Str(r, 7),
        Str(r, 8),
        Str(r, 9),
        r.GetString(10),
        Time(r, 11),
        Time(r, 12),
        TimeOrNull(r, 13),
        TimeOrNull(r, 14),
        Str(r, 15),
        TimeOrNull(r, 16),
        r.GetBoolean(17),
        Str(r, 18),
        Str(r, 19),
        r.GetInt64(20))
    {
        TraceParent = Str(r, 21),
    };

    private static StepRecord MapStep(NpgsqlDataReader r) => new(
        r.GetInt32(0),
        r.GetString(1),
        StepStoredNames.ParseKind(r.GetString(2)),
        StepStoredNames.ParseStatus(r.GetString(3)),
        r.GetInt32(4),
        Str(r, 5),
        Str(r, 6),
        Str(r, 7),
        Str(r, 8),
        Str(r, 9),
        Str(r, 10),
        Str(r, 11),
        TimeOrNull(r, 12),
        TimeOrNull(r, 13),
        TimeOrNull(r, 14),
        Str(r, 15),
        TimeOrNull(r, 16));

    private static TimelineEvent MapEvent(NpgsqlDataReader r) => new(
        r.GetString(0),
        r.GetInt64(1),
        Time(r, 2),
        r.GetString(3),
        r.GetString(4),
        Str(r, 5),
        r.GetString(6));

    private static async Task<RunRecord?> ReadRunAsync(Db db, string runId) =>
        (await db.QueryAsync($"{RunSelect} WHERE r.run_id = @id", MapRun, Db.P("id", runId)).ConfigureAwait(false)).FirstOrDefault();

    /// <summary>
    /// Reads runs' histories (run rows, steps, pending signals) in one round trip, after <paramref name="first"/>
    /// (statements that return no rows, sent in the same batch). A claim reads those of the runs it has just
    /// leased in its own transaction: their rows are locked by it, so no commit, signal or cancel of anyone else can
    /// change them before it ends, and the worker needs no history load of its own (docs/benchmarks.md).
    /// </summary>
    private static async Task<Dictionary<string, RunHistory>> ReadHistoriesAsync(Db db, string[] ids, params (string Sql, NpgsqlParameter[] Parameters)[] first)
    {
        var runs = new List<(RunRecord Run, string? RunningStep)>();
        var steps = new Dictionary<string, List<StepRecord>>(StringComparer.Ordinal);
        var signals = new Dictionary<string, List<SignalRecord>>(StringComparer.Ordinal);
        static void Add<T>(Dictionary<string, List<T>> to, string id, T item)
        {
            if (!to.TryGetValue(id, out var list))
            {
                to[id] = list = [];
            }

            list.Add(item);
        }

        var p = Db.P("ids", ids);
        await db.QueryEachAsync(
            [
                .. first,
                ($"SELECT {RunColumns}, r.running_step {RunFrom} WHERE r.run_id = ANY(@ids)", [p]),
                ($"SELECT {StepSelectList}, s.run_id FROM steps s {StepJoins} WHERE s.run_id = ANY(@ids) ORDER BY s.run_id, s.seq", [p.Clone()]),
                ("SELECT id, name, payload, sender, received_at, run_id FROM signals WHERE run_id = ANY(@ids) AND consumed_seq IS NULL ORDER BY run_id, id", [p.Clone()]),
            ],
            [
                r => runs.Add((MapRun(r), Str(r, 22))),
                r => Add(steps, r.GetString(17), MapStep(r)),
                r => Add(signals, r.GetString(5), new SignalRecord(r.GetInt64(0), r.GetString(1), Str(r, 2), r.GetString(3), Time(r, 4), null)),
            ]).ConfigureAwait(false);
        return runs.ToDictionary(
            r => r.Run.RunId,
            r => new RunHistory(r.Run, WithRunningStep(steps.TryGetValue(r.Run.RunId, out var s) ? s : [], r.RunningStep), signals.TryGetValue(r.Run.RunId, out var g) ? g : []),
            StringComparer.Ordinal);
    }

    /// <summary>Keeps small values inline; stores a large one once in the payloads table and returns its hash.</summary>
    private async Task<(string? Inline, string? Ref)> PayloadAsync(Db db, string? content)
    {
        var (inline, reference, command) = Payload(content);
        if (command is { } c)
        {
            await db.ExecAsync(c.Sql, c.Parameters).ConfigureAwait(false);
        }

        return (inline, reference);
    }

    /// <summary>Keeps a step's small input and output inline; for large ones, adds the statements storing them once and returns their hashes.</summary>
    private (string? Input, string? InputRef, string? Output, string? OutputRef) StepPayloads(StepRecord step, List<(string Sql, NpgsqlParameter[] Parameters)> commands)
    {
        var (input, inputRef, storeInput) = Payload(step.Input);
        var (output, outputRef, storeOutput) = Payload(step.Output);
        if (storeInput is { } si)
        {
            commands.Add(si);
        }

        if (storeOutput is { } so)
        {
            commands.Add(so);
        }

        return (input, inputRef, output, outputRef);
    }

    /// <summary>Keeps small values inline; for a large one, returns its hash and the statement that stores it once.</summary>
    private (string? Inline, string? Ref, (string Sql, NpgsqlParameter[] Parameters)? Command) Payload(string? content)
    {
        if (content is null || content.Length <= options.InlinePayloadLimit)
        {
            return (content, null, null);
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)));
        return (null, hash, ("INSERT INTO payloads (hash, content) VALUES (@h, @c) ON CONFLICT (hash) DO NOTHING", [Db.P("h", hash), Db.P("c", content)]));
    }

    /// <summary>
    /// The two statements that append events to runs' hash-chained timelines, given each run's current head
    /// (read or locked by the caller in this transaction), and move the heads.
    /// </summary>
    private static List<(string Sql, NpgsqlParameter[] Parameters)> TimelineCommands(IReadOnlyList<(string RunId, long Seq, string Hash, IReadOnlyList<NewTimelineEvent> Events)> chains) =>
        PlanTimeline(chains) is { } plan ? [plan.Insert, plan.MoveHeads] : [];

    /// <summary>
    /// Chains events onto runs' timeline heads: the statement inserting them, the one moving the heads, and the
    /// new heads; null when there is no event.
    /// </summary>
    private static TimelinePlan? PlanTimeline(IReadOnlyList<(string RunId, long Seq, string Hash, IReadOnlyList<NewTimelineEvent> Events)> chains)
    {
        var runIds = new List<string>();
        var seqs = new List<long>();
        var ats = new List<DateTimeOffset>();
        var actors = new List<string>();
        var kinds = new List<string>();
        var datas = new List<string?>();
        var hashes = new List<string>();
        var heads = new List<(string RunId, long Seq, string Hash)>();
        foreach (var (runId, startSeq, startHash, events) in chains)
        {
            var seq = startSeq;
            var hash = startHash;
            foreach (var e in events)
            {
                seq++;
                var at = PgTime.ToDb(e.At);
                hash = TimelineChain.ComputeHash(hash, runId, seq, at, e.Actor, e.Kind, e.Data);
                runIds.Add(runId);
                seqs.Add(seq);
                ats.Add(at);
                actors.Add(e.Actor);
                kinds.Add(e.Kind);
                datas.Add(e.Data);
                hashes.Add(hash);
            }

            if (seq != startSeq)
            {
                heads.Add((runId, seq, hash));
            }
        }

        if (heads.Count == 0)
        {
            return null;
        }

        return new(
            (
                "INSERT INTO timeline (run_id, seq, at, actor, kind, data, hash) SELECT * FROM unnest(@runs, @seqs, @ats, @actors, @kinds, @datas, @hashes)",
                [
                    Db.P("runs", runIds.ToArray()),
                    Db.P("seqs", seqs.ToArray()),
                    Db.P("ats", ats.ToArray()),
                    Db.P("actors", actors.ToArray()),
                    Db.P("kinds", kinds.ToArray()),
                    Db.P("datas", datas.ToArray()!),
                    Db.P("hashes", hashes.ToArray()),
                ]),
            (
                "UPDATE runs SET timeline_seq = h.seq, timeline_hash = h.hash FROM unnest(@ids, @seqs, @hashes) AS h(id, seq, hash) WHERE runs.run_id = h.id",
                [
                    Db.P("ids", heads.Select(h => h.RunId).ToArray()),
                    Db.P("seqs", heads.Select(h => h.Seq).ToArray()),
                    Db.P("hashes", heads.Select(h => h.Hash).ToArray()),
                ]),
            heads);
    }

    /// <summary>Appends events to runs' timelines in one round trip, given each run's current head (locked by the caller); returns the new heads.</summary>
    private static async Task<List<(string RunId, long Seq, string Hash)>> AppendEventsAsync(Db db, IReadOnlyList<(string RunId, long Seq, string Hash, IReadOnlyList<NewTimelineEvent> Events)> chains)
    {
        if (PlanTimeline(chains) is not { } plan)
        {
            return [];
        }

        await db.BatchAsync([plan.Insert, plan.MoveHeads]).ConfigureAwait(false);
        return plan.Heads;
    }

    /// <summary>Locks a run's row and appends events to its timeline.</summary>
    private static async Task AppendEventsAsync(Db db, string runId, IReadOnlyList<NewTimelineEvent> events)
    {
        if (events.Count == 0)
        {
            return;
        }

        var head = await db.QueryAsync("SELECT timeline_seq, timeline_hash FROM runs WHERE run_id = @id FOR UPDATE", r => (Seq: r.GetInt64(0), Hash: r.GetString(1)), Db.P("id", runId)).ConfigureAwait(false);
        if (head.Count == 0)
        {
            throw new WorkflowStoreException($"Run {runId} does not exist.");
        }

        await AppendEventsAsync(db, [(runId, head[0].Seq, head[0].Hash, events)]).ConfigureAwait(false);
    }

    /// <summary>The statements appending events to timelines, and the heads they leave.</summary>
    private sealed record TimelinePlan((string Sql, NpgsqlParameter[] Parameters) Insert, (string Sql, NpgsqlParameter[] Parameters) MoveHeads, List<(string RunId, long Seq, string Hash)> Heads);

    /// <summary>Counts an external event, makes a waiting run ready, and wakes its queue's workers.</summary>
    private static async Task WakeAsync(Db db, string runId, DateTimeOffset now)
    {
        var queue = await db.ScalarAsync(
            WakeSql + " RETURNING queue",
            Db.P("now", now),
            Db.P("id", runId)).ConfigureAwait(false) as string;
        if (queue is not null)
        {
            db.Wakes.Add(queue);
        }
    }
}
