// The PostgreSQL half of the load driver (issue 7): the same 10-step no-op workload as the SQLite benchmark,
// next to the raw single-row commit rate of the same server measured in the same run.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using RunbookEngine.Storage.Postgres;
using RunbookEngine.Workflows;

namespace RunbookEngine.Bench;

internal static class PostgresBench
{
    private const int Steps = TenStepWorkload.Steps;

    public static async Task<int> RunAsync(string connectionString, int runsAtOne, int runsConcurrent)
    {
        var report = new StringBuilder();
        void Line(string s)
        {
            Console.WriteLine(s);
            report.AppendLine(s);
        }

        var raw1 = await RawCommitsAsync(connectionString, 1, 2000);
        var raw8 = await RawCommitsAsync(connectionString, 8, 4000);
        var rawLatencyMs = 1000.0 / raw1;
        Line($"raw single-row INSERT+COMMIT: {raw1:F0} commits/s with 1 connection ({rawLatencyMs:F3} ms per commit), {raw8:F0} commits/s with 8 connections");

        // Per-step overhead at concurrency 1.
        List<double> gaps;
        double c1Rate;
        var c1Schema = Schema("c1");
        await using (var store = await PostgresWorkflowStore.OpenAsync(new PostgresStoreOptions { ConnectionString = connectionString, Schema = c1Schema }))
        {
            (gaps, c1Rate) = await new TenStepWorkload().MeasureOneAtATimeAsync(store, runsAtOne);
        }

        await DropAsync(connectionString, c1Schema);
        var p50 = TenStepWorkload.Percentile(gaps, 0.50);
        var p99 = TenStepWorkload.Percentile(gaps, 0.99);
        Line($"concurrency 1: per-step overhead p50 {p50:F3} ms, p99 {p99:F3} ms ({p50 / rawLatencyMs:F2} and {p99 / rawLatencyMs:F2} raw commits); {c1Rate:F0} steps/s end to end");

        var at64 = new List<double>();
        foreach (var concurrency in new[] { 8, 64 })
        {
            foreach (var processes in new[] { 1, 2, 4 })
            {
                var rate = await DrainAsync(connectionString, concurrency, processes, runsConcurrent);
                if (concurrency == 64)
                {
                    at64.Add(rate);
                }

                Line($"concurrency {concurrency} over {processes} worker process(es): {rate:F0} steps/s ({rate / raw8:F2} x the raw 8-connection commit rate), {runsConcurrent} runs x {Steps} steps");
            }
        }

        Line($"targets: c1 step <= 2 raw commits: {(p50 <= 2 * rawLatencyMs ? "met" : "NOT met")} (p50); c64 steps/s >= raw 8-connection commits/s: {(at64.Max() >= raw8 ? "met" : "NOT met")} (best of 1, 2, 4 processes)");
        return 0;
    }

    /// <summary>A worker process of the throughput measurement: serves the schema until nothing is left, after the parent says go.</summary>
    public static async Task<int> ChildAsync(string connectionString, string schema, int concurrency)
    {
        var workload = new TenStepWorkload();
        await using var store = await PostgresWorkflowStore.OpenAsync(new PostgresStoreOptions { ConnectionString = connectionString, Schema = schema });
        var worker = new WorkflowWorker(store, workload.Registry, new WorkerOptions { MaxConcurrentRuns = concurrency });
        Console.WriteLine("ready");
        _ = await Console.In.ReadLineAsync();
        await worker.RunUntilIdleAsync(CancellationToken.None);
        return 0;
    }

    private static async Task<double> DrainAsync(string connectionString, int concurrency, int processes, int runs)
    {
        var schema = Schema($"c{concurrency}p{processes}");
        var def = new TenStepWorkload().Definition;
        await using (var store = await PostgresWorkflowStore.OpenAsync(new PostgresStoreOptions { ConnectionString = connectionString, Schema = schema }))
        {
            var client = new WorkflowClient(store);
            for (var r = 0; r < runs; r++)
            {
                await client.StartAsync(def);
            }
        }

        var children = new List<Process>();
        for (var p = 0; p < processes; p++)
        {
            var info = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
            if (Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal))
            {
                info.ArgumentList.Add(typeof(PostgresBench).Assembly.Location);
            }

            foreach (var a in new[] { "--postgres-child", connectionString, schema, (concurrency / processes).ToString(CultureInfo.InvariantCulture) })
            {
                info.ArgumentList.Add(a);
            }

            var child = Process.Start(info)!;
            children.Add(child);
            if (await child.StandardOutput.ReadLineAsync() != "ready")
            {
                throw new InvalidOperationException("a worker process did not start");
            }
        }

        var sw = Stopwatch.StartNew();
        foreach (var c in children)
        {
            await c.StandardInput.WriteLineAsync("go");
            await c.StandardInput.FlushAsync();
        }

        foreach (var c in children)
        {
            await c.WaitForExitAsync();
            c.Dispose();
        }

        var rate = runs * Steps / sw.Elapsed.TotalSeconds;
        await using var check = new NpgsqlConnection(connectionString);
        await check.OpenAsync();
        await using (var cmd = new NpgsqlCommand($"SELECT count(*) FROM {schema}.runs WHERE status <> 'completed'", check))
        {
            var open = (long)(await cmd.ExecuteScalarAsync())!;
            if (open != 0)
            {
                throw new InvalidOperationException($"{open} runs did not complete");
            }
        }

        await DropAsync(connectionString, schema);
        return rate;
    }

    private static string Schema(string what) => $"bench_{what}_{Environment.ProcessId}";

    private static async Task DropAsync(string connectionString, string schema)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE", c);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Single-row INSERT + COMMIT per transaction, on <paramref name="connections"/> connections at once.</summary>
    private static async Task<double> RawCommitsAsync(string connectionString, int connections, int total)
    {
        var table = $"bench_raw_{Environment.ProcessId}";
        await using (var c = new NpgsqlConnection(connectionString))
        {
            await c.OpenAsync();
            await using var create = new NpgsqlCommand($"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigserial PRIMARY KEY, v text NOT NULL)", c);
            await create.ExecuteNonQueryAsync();
        }

        async Task LoopAsync(int count)
        {
            await using var c = new NpgsqlConnection(connectionString);
            await c.OpenAsync();
            for (var i = 0; i < count; i++)
            {
                await using var tx = await c.BeginTransactionAsync();
                await using var insert = new NpgsqlCommand($"INSERT INTO {table} (v) VALUES (@v)", c, tx);
                insert.Parameters.AddWithValue("v", "step output " + i.ToString(CultureInfo.InvariantCulture));
                await insert.ExecuteNonQueryAsync();
                await tx.CommitAsync();
            }
        }

        await LoopAsync(50); // warm-up
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => LoopAsync(total / connections)));
        var rate = total / sw.Elapsed.TotalSeconds;
        await using (var c = new NpgsqlConnection(connectionString))
        {
            await c.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP TABLE {table}", c);
            await drop.ExecuteNonQueryAsync();
        }

        return rate;
    }

}
