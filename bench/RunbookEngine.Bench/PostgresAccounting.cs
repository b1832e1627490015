// What a drain costs the database, per step (issue 29): statements, rows written and how (HOT or not), index
// entries, WAL bytes and commits, read from PostgreSQL's own statistics before and after the drain.
using System.Globalization;
using System.Text;
using Npgsql;

namespace RunbookEngine.Bench;

/// <summary>
/// A snapshot of the server's counters for one schema: <c>pg_current_wal_lsn()</c>, <c>pg_stat_database</c>
/// (commits), <c>pg_stat_user_tables</c> (rows inserted, updated, HOT-updated, deleted) and <c>pg_stat_user_indexes</c>
/// (index count), <c>pg_stat_wal</c> (full-page images), and, when the server preloads <c>pg_stat_statements</c>, the statements that ran.
/// </summary>
internal sealed class PostgresAccounting
{
    private readonly string connectionString;
    private readonly string schema;
    private bool statements;
    private long walBefore;
    private long fpiBefore;
    private long commitsBefore;
    private Dictionary<string, (long Ins, long Upd, long Hot, long Del)> tablesBefore = [];

    private PostgresAccounting(string connectionString, string schema)
    {
        this.connectionString = connectionString;
        this.schema = schema;
    }

    /// <summary>Takes the "before" snapshot (and resets pg_stat_statements when it is there).</summary>
    public static async Task<PostgresAccounting> StartAsync(string connectionString, string schema)
    {
        var a = new PostgresAccounting(connectionString, schema);
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        a.statements = (string?)await ScalarAsync(c, "SELECT current_setting('shared_preload_libraries')") is { } preload && preload.Contains("pg_stat_statements", StringComparison.Ordinal);
        if (a.statements)
        {
            await ScalarAsync(c, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
            await ScalarAsync(c, "SELECT pg_stat_statements_reset()");
        }

        (a.walBefore, a.commitsBefore, a.tablesBefore) = await CountersAsync(c, schema);
        a.fpiBefore = (long)(await ScalarAsync(c, "SELECT wal_fpi FROM pg_stat_wal"))!;
        return a;
    }

    /// <summary>After the workers have exited: the per-step report, once their backends have flushed their statistics.</summary>
    public async Task<string> ReportAsync(double steps)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();

        // A backend flushes its statistics when it ends: wait until the workers' backends are gone (bounded).
        for (var i = 0; i < 200 && (long)(await ScalarAsync(c, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"))! > 0; i++)
        {
            await Task.Delay(25);
        }

        await ScalarAsync(c, "SELECT pg_stat_clear_snapshot()");
        var (wal, commits, tables) = await CountersAsync(c, schema);
        var fpi = (long)(await ScalarAsync(c, "SELECT wal_fpi FROM pg_stat_wal"))! - fpiBefore;
        var s = new StringBuilder();
        string F(double v) => v.ToString(v < 10 ? "F2" : "F0", CultureInfo.InvariantCulture);
        s.Append(CultureInfo.InvariantCulture, $"per step: {F((wal - walBefore) / steps)} WAL bytes ({F(fpi / steps)} full-page images), {F((commits - commitsBefore) / steps)} commits (database-wide)");
        foreach (var (table, now) in tables.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            var was = tablesBefore.TryGetValue(table, out var b) ? b : default;
            var (ins, upd, hot, del) = (now.Ins - was.Ins, now.Upd - was.Upd, now.Hot - was.Hot, now.Del - was.Del);
            if (ins + upd + del > 0)
            {
                s.Append(CultureInfo.InvariantCulture, $"; {table}: {F(ins / steps)} ins, {F(upd / steps)} upd ({F(hot / steps)} HOT), {F(del / steps)} del");
            }
        }

        s.Append(CultureInfo.InvariantCulture, $"; indexes: {string.Join(", ", (await IndexesAsync(c, schema)).Select(i => $"{i.Table} {i.Count}"))}");
        if (statements)
        {
            var rows = new List<(long Calls, double Ms, long Rows, long Wal, string Query)>();
            await using (var cmd = new NpgsqlCommand(
                """
                SELECT calls, total_exec_time + total_plan_time, rows, wal_bytes, regexp_replace(query, '\s+', ' ', 'g')
                FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT ILIKE '%pg_stat%' AND query NOT ILIKE '%pg_backend_pid%'
                ORDER BY total_exec_time + total_plan_time DESC
                """,
                c))
            await using (var r = await cmd.ExecuteReaderAsync())
            {
                while (await r.ReadAsync())
                {
                    rows.Add((r.GetInt64(0), r.GetDouble(1), r.GetInt64(2), (long)r.GetDecimal(3), r.GetString(4)));
                }
            }

            s.Append(CultureInfo.InvariantCulture, $"; statements: {F(rows.Sum(x => x.Calls) / steps)} per step, {F(rows.Sum(x => x.Ms) * 1000 / steps)} us of server time per step (execution + planning)");
            foreach (var (calls, ms, n, walBytes, query) in rows.Take(8))
            {
                s.Append(CultureInfo.InvariantCulture, $"\n    {ms * 1000 / steps,6:F1} us/step  {calls / steps,5:F2} calls/step  {n / (double)Math.Max(1, calls),6:F1} rows/call  {walBytes / steps,6:F0} WAL B/step  {(query.Length > 110 ? query[..110] + "..." : query)}");
            }
        }
        else
        {
            s.Append("; (start the server with shared_preload_libraries=pg_stat_statements for the statements: RUNBOOK_BENCH_PGSTATS=1 bench/postgres-cluster.sh start)");
        }

        return s.ToString();
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection c, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, c);
        return await cmd.ExecuteScalarAsync();
    }

    private static async Task<(long Wal, long Commits, Dictionary<string, (long Ins, long Upd, long Hot, long Del)> Tables)> CountersAsync(NpgsqlConnection c, string schema)
    {
        var wal = (long)(decimal)(await ScalarAsync(c, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))!;
        var commits = (long)(await ScalarAsync(c, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"))!;
        var tables = new Dictionary<string, (long, long, long, long)>(StringComparer.Ordinal);
        await using var cmd = new NpgsqlCommand("SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables WHERE schemaname = @s", c);
        cmd.Parameters.AddWithValue("s", schema);
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            tables[r.GetString(0)] = (r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4));
        }

        return (wal, commits, tables);
    }

    private static async Task<List<(string Table, long Count)>> IndexesAsync(NpgsqlConnection c, string schema)
    {
        var list = new List<(string, long)>();
        await using var cmd = new NpgsqlCommand("SELECT relname, count(*) FROM pg_stat_user_indexes WHERE schemaname = @s GROUP BY relname ORDER BY relname", c);
        cmd.Parameters.AddWithValue("s", schema);
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            list.Add((r.GetString(0), r.GetInt64(1)));
        }

        return list;
    }
}
