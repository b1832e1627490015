using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Storage.Postgres;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Bench;

/// <summary>
/// Prune speed on a store with about a million timeline events: RUNS finished runs of 10 steps (21 events each,
/// the shape of a 10-step run) written straight into the tables, ended 40 days ago, then `runbook prune
/// --older-than 30d` through <see cref="StorePruner"/> with the default batch of 200 runs. While it prunes, a
/// second task writes a new journal entry in a loop: its latency says whether the prune blocks other writes.
/// </summary>
internal static class PruneBench
{
    private const int EventsPerRun = 21;
    private const int StepsPerRun = 10;

    public static async Task<int> RunAsync(int runs, string? postgres)
    {
        var old = TimeProvider.System.GetUtcNow() - TimeSpan.FromDays(40);
        IWorkflowStore store;
        string where;
        if (postgres is null)
        {
            var path = Path.Combine(Path.GetTempPath(), "runbook-prune-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture), "runbook.db");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var sqlite = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = path });
            store = sqlite;
            where = "SQLite " + path;
            var fill = Stopwatch.StartNew();
            await using (var c = new SqliteConnection($"Data Source={path}"))
            {
                await c.OpenAsync();
                await using var tx = (SqliteTransaction)await c.BeginTransactionAsync();
                Exec(c, tx, "INSERT INTO definitions (hash, workflow, content, created_at) VALUES ('h', 'bench', '{}', 0)");
                Exec(c, tx, $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {runs}) INSERT INTO runs (run_id, workflow, definition_hash, queue, status, created_by, created_at, updated_at, completed_at, timeline_seq, timeline_hash) SELECT 'run-' || i, 'bench', 'h', 'default', 'completed', 'user:bench', {old.ToUnixTimeMilliseconds()}, {old.ToUnixTimeMilliseconds()}, {old.ToUnixTimeMilliseconds()} + i, {EventsPerRun}, 'hash' FROM n");
                Exec(c, tx, $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {EventsPerRun}) INSERT INTO timeline (run_id, seq, at, actor, kind, data, hash) SELECT r.run_id, n.i, r.created_at, 'worker:w1', 'step.completed', '{{\"step\":\"s\",\"output\":{{\"code\":0}}}}', 'hash' FROM runs r, n");
                Exec(c, tx, $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {StepsPerRun}) INSERT INTO steps (run_id, seq, name, kind, status, attempt, output) SELECT r.run_id, n.i, 's' || n.i, 'activity', 'completed', 1, '{{\"code\":0}}' FROM runs r, n");
                await tx.CommitAsync();
            }

            Console.WriteLine($"filled {runs:N0} runs, {runs * EventsPerRun:N0} events, {runs * StepsPerRun:N0} steps in {fill.Elapsed.TotalSeconds:F1} s");
        }
        else
        {
            var schema = "prune_bench_" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            var pg = await PostgresWorkflowStore.OpenAsync(new PostgresStoreOptions { ConnectionString = postgres, Schema = schema });
            store = pg;
            where = "PostgreSQL " + pg.Location;
            var fill = Stopwatch.StartNew();
            await using (var source = new NpgsqlDataSourceBuilder(postgres + $";Search Path={schema}").Build())
            await using (var c = await source.OpenConnectionAsync())
            {
                foreach (var sql in (string[])[
                    "INSERT INTO definitions (hash, workflow, content, created_at) VALUES ('h', 'bench', '{}', now())",
                    $"INSERT INTO runs (run_id, workflow, definition_hash, queue, status, created_by, created_at, updated_at, completed_at, timeline_seq, timeline_hash) SELECT 'run-' || i, 'bench', 'h', 'default', 'completed', 'user:bench', now() - interval '40 days', now() - interval '40 days', now() - interval '40 days' + i * interval '1 millisecond', {EventsPerRun}, 'hash' FROM generate_series(1, {runs}) i",
                    $"INSERT INTO timeline (run_id, seq, at, actor, kind, data, hash) SELECT r.run_id, n, r.created_at, 'worker:w1', 'step.completed', '{{\"step\":\"s\",\"output\":{{\"code\":0}}}}', 'hash' FROM runs r, generate_series(1, {EventsPerRun}) n",
                    $"INSERT INTO steps (run_id, seq, name, kind, status, attempt, output) SELECT r.run_id, n, 's' || n, 'activity', 'completed', 1, '{{\"code\":0}}' FROM runs r, generate_series(1, {StepsPerRun}) n",
                    "ANALYZE"])
                {
                    await using var cmd = new NpgsqlCommand(sql, c) { CommandTimeout = 600 };
                    await cmd.ExecuteNonQueryAsync();
                }
            }

            Console.WriteLine($"filled {runs:N0} runs, {runs * EventsPerRun:N0} events, {runs * StepsPerRun:N0} steps in {fill.Elapsed.TotalSeconds:F1} s");
        }

        await using (store)
        {
            using var stop = new CancellationTokenSource();
            var latencies = new List<double>();
            var writer = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var t = Stopwatch.StartNew();
                    await store.AppendJournalAsync([new NewJournalEntry(TimeProvider.System.GetUtcNow(), "bench", "unmatched", "during-prune", null)], CancellationToken.None);
                    latencies.Add(t.Elapsed.TotalMilliseconds);
                }
            });
            var watch = Stopwatch.StartNew();
            var report = await new StorePruner(store).PruneAsync(new PruneRequest(TimeSpan.FromDays(30), "user:bench"), null, CancellationToken.None);
            var elapsed = watch.Elapsed;
            await stop.CancelAsync();
            await writer;
            latencies.Sort();
            double P(double q) => latencies[Math.Min(latencies.Count - 1, (int)(q * latencies.Count))];
            Console.WriteLine($"{where}: pruned {report.Runs:N0} runs ({report.Events:N0} events) in {elapsed.TotalSeconds:F1} s = {report.Events / elapsed.TotalSeconds:N0} events/s, {report.Runs / elapsed.TotalSeconds:N0} runs/s, {report.Batches} batches");
            Console.WriteLine($"  a concurrent journal write meanwhile ({latencies.Count:N0} writes): p50 {P(0.5):F2} ms, p99 {P(0.99):F2} ms, max {latencies[^1]:F2} ms");
        }

        return 0;
    }

    private static void Exec(SqliteConnection c, SqliteTransaction tx, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
