using System.Globalization;
using Microsoft.Data.Sqlite;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite;

/// <content>Command helpers and row mapping.</content>
public sealed partial class SqliteWorkflowStore
{
    private const string RunColumns = "run_id, workflow, definition_hash, queue, status, idempotency_key, input, output, error_kind, error_message, created_by, created_at, updated_at, completed_at, available_at, lease_owner, lease_expires_at, cancel_requested, cancel_requested_by, cancel_reason, wake_count, trace_parent";

    private const string StepColumns = "seq, name, kind, status, attempt, queue, activity, input, output, error_kind, error_message, options, available_at, started_at, completed_at, lease_owner, lease_expires_at";

    private SqliteCommand Command(SqliteConnection c, SqliteTransaction? tx, string sql, (string Name, object? Value)[] parameters, out bool owned)
    {
        SqliteCommand cmd;
        if (ReferenceEquals(c, writer))
        {
            if (!writerCommands.TryGetValue(sql, out cmd!))
            {
                cmd = c.CreateCommand();
#pragma warning disable CA2100 // Every SQL text here is a constant of this assembly; values are always parameters.
                cmd.CommandText = sql;
#pragma warning restore CA2100
                writerCommands[sql] = cmd;
            }

            cmd.Parameters.Clear();
            owned = false;
        }
        else
        {
            cmd = c.CreateCommand();
#pragma warning disable CA2100 // As above.
            cmd.CommandText = sql;
#pragma warning restore CA2100
            owned = true;
        }

        cmd.Transaction = tx;
        cmd.CommandTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds);
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return cmd;
    }

    private int Exec(SqliteConnection c, SqliteTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var cmd = Command(c, tx, sql, parameters, out var owned);
        try
        {
            return cmd.ExecuteNonQuery();
        }
        finally
        {
            if (owned)
            {
                cmd.Dispose();
            }
        }
    }

    private object? Scalar(SqliteConnection c, SqliteTransaction? tx, string sql, params (string Name, object? Value)[] parameters)
    {
        var cmd = Command(c, tx, sql, parameters, out var owned);
        try
        {
            var v = cmd.ExecuteScalar();
            return v is DBNull ? null : v;
        }
        finally
        {
            if (owned)
            {
                cmd.Dispose();
            }
        }
    }

    private List<T> Query<T>(SqliteConnection c, SqliteTransaction? tx, string sql, Func<SqliteDataReader, T> map, params (string Name, object? Value)[] parameters)
    {
        var cmd = Command(c, tx, sql, parameters, out var owned);
        try
        {
            using var r = cmd.ExecuteReader();
            var list = new List<T>();
            while (r.Read())
            {
                list.Add(map(r));
            }

            return list;
        }
        finally
        {
            if (owned)
            {
                cmd.Dispose();
            }
        }
    }

    private static string? Str(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static DateTimeOffset? Time(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : SqliteTime.FromDb(r.GetInt64(i));

    private static RunRecord MapRun(SqliteDataReader r) => new(
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
        SqliteTime.FromDb(r.GetInt64(11)),
        SqliteTime.FromDb(r.GetInt64(12)),
        Time(r, 13),
        Time(r, 14),
        Str(r, 15),
        Time(r, 16),
        r.GetInt64(17) != 0,
        Str(r, 18),
        Str(r, 19),
        r.GetInt64(20))
    {
        TraceParent = Str(r, 21),
    };

    private static StepRecord MapStep(SqliteDataReader r) => new(
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
        Time(r, 12),
        Time(r, 13),
        Time(r, 14),
        Str(r, 15),
        Time(r, 16));

    private static TimelineEvent MapEvent(SqliteDataReader r) => new(
        r.GetString(0),
        r.GetInt64(1),
        SqliteTime.FromDb(r.GetInt64(2)),
        r.GetString(3),
        r.GetString(4),
        Str(r, 5),
        r.GetString(6));

    private RunRecord? ReadRun(SqliteConnection c, SqliteTransaction? tx, string runId) =>
        Query(c, tx, $"SELECT {RunColumns} FROM runs WHERE run_id = $id", MapRun, ("$id", runId)).FirstOrDefault();

    /// <summary>Appends events to a run's hash-chained timeline; the caller's transaction holds the write lock.</summary>
    private void AppendEvents(SqliteConnection c, SqliteTransaction tx, string runId, IEnumerable<NewTimelineEvent> events)
    {
        var head = Query(c, tx, "SELECT timeline_seq, timeline_hash FROM runs WHERE run_id = $id", r => (Seq: r.GetInt64(0), Hash: r.GetString(1)), ("$id", runId));
        if (head.Count == 0)
        {
            throw new WorkflowStoreException($"Run {runId} does not exist.");
        }

        var (seq, hash) = head[0];
        var any = false;
        foreach (var e in events)
        {
            seq++;
            var at = SqliteTime.FromDb(SqliteTime.ToDb(e.At));
            hash = TimelineChain.ComputeHash(hash, runId, seq, at, e.Actor, e.Kind, e.Data);
            Exec(
                c,
                tx,
                "INSERT INTO timeline (run_id, seq, at, actor, kind, data, hash) VALUES ($run, $seq, $at, $actor, $kind, $data, $hash)",
                ("$run", runId),
                ("$seq", seq),
                ("$at", SqliteTime.ToDb(at)),
                ("$actor", e.Actor),
                ("$kind", e.Kind),
                ("$data", e.Data),
                ("$hash", hash));
            any = true;
        }

        if (any)
        {
            Exec(c, tx, "UPDATE runs SET timeline_seq = $seq, timeline_hash = $hash WHERE run_id = $id", ("$seq", seq), ("$hash", hash), ("$id", runId));
        }
    }

    private static string InList(string prefix, int count) =>
        string.Join(", ", Enumerable.Range(0, count).Select(i => prefix + i.ToString(CultureInfo.InvariantCulture)));

    private static (string, object?)[] InParams(string prefix, IReadOnlyList<string> values) =>
        values.Select((v, i) => (prefix + i.ToString(CultureInfo.InvariantCulture), (object?)v)).ToArray();
}
