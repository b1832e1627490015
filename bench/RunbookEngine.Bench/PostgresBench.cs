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

    public static async Task<int> RunAsync(string connectionString, int runsAtOne, int runsConcurrent, IReadOnlyList<(int Concurrency, int Processes)>? only = null, bool c1Only = false)
    {
        var report = new StringBuilder();
        void Line(string s)
        {
            Console.WriteLine(s);
            report.AppendLine(s);
        }

        // The raw rate of this machine's disk and server moves by a third from one second to the next (shared
        // hardware): it is measured three times across the run (here, between the drains, at the end) and the
        // comparison uses the median.
        var raw1s = new List<double>();
        var raw8s = new List<double>();
        async Task RawAsync()
        {
            raw1s.Add(await RawCommitsAsync(connectionString, 1, 3000));
            raw8s.Add(await RawCommitsAsync(connectionString, 8, 12000));
        }

        await RawAsync();
        var raw1 = raw1s[0];
        var raw8 = raw8s[0];
        var rawLatencyMs = 1000.0 / raw1;
        Line($"raw single-row INSERT+COMMIT: {raw1:F0} commits/s with 1 connection ({rawLatencyMs:F3} ms per commit), {raw8:F0} commits/s with 8 connections");

        if (only is not null)
        {
            foreach (var (concurrency, processes) in only)
            {
                var (rate, cpu) = await DrainAsync(connectionString, concurrency, processes, runsConcurrent);
                Line($"concurrency {concurrency} over {processes} worker process(es): {rate:F0} steps/s ({rate / raw8:F2} x raw8); {cpu}");
            }

            return 0;
        }

        // Per-step overhead at concurrency 1.
        List<double> gaps;
        double c1Rate;
        var c1Schema = Schema("c1");
        await using (var store = await PostgresWorkflowStore.OpenAsync(new PostgresStoreOptions { ConnectionString = connectionString, Schema = c1Schema }))
        {
            var workload = new TenStepWorkload();
            _ = await workload.MeasureOneAtATimeAsync(store, Math.Max(300, runsAtOne)); // warm-up (JIT tiers, plans), as for the worker processes below
            await AnalyzeAsync(connectionString, c1Schema);
            (gaps, c1Rate) = await workload.MeasureOneAtATimeAsync(store, runsAtOne);
        }

        await DropAsync(connectionString, c1Schema);
        var p50 = TenStepWorkload.Percentile(gaps, 0.50);
        var p99 = TenStepWorkload.Percentile(gaps, 0.99);
        Line($"concurrency 1: per-step overhead p50 {p50:F3} ms, p99 {p99:F3} ms ({p50 / rawLatencyMs:F2} and {p99 / rawLatencyMs:F2} raw commits); {c1Rate:F0} steps/s end to end");
        if (c1Only)
        {
            // Concurrency 1 alone, between two raw measurements (for working on the per-step latency).
            await RawAsync();
            Line($"raw again: 1 connection {raw1s[1]:F0} commits/s; c1 p50 = {p50 * raw1s[0] / 1000:F2} and {p50 * raw1s[1] / 1000:F2} raw commits");
            return 0;
        }

        var at64 = new List<double>();
        foreach (var concurrency in new[] { 8, 64 })
        {
            foreach (var processes in new[] { 1, 2, 4 })
            {
                var (rate, cpu) = await DrainAsync(connectionString, concurrency, processes, runsConcurrent);
                if (concurrency == 64)
                {
                    at64.Add(rate);
                }

                Line($"concurrency {concurrency} over {processes} worker process(es): {rate:F0} steps/s ({rate / raw8:F2} x the first raw 8-connection commit rate), {runsConcurrent} runs x {Steps} steps; {cpu}");
            }

            if (concurrency == 8)
            {
                await RawAsync();
            }
        }

        await RawAsync();
        var median8 = raw8s.Order().ElementAt(1);
        var median1 = raw1s.Order().ElementAt(1);
        Line($"raw again: 1 connection {string.Join(", ", raw1s.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))} commits/s (median {median1:F0}); 8 connections {string.Join(", ", raw8s.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))} (median {median8:F0})");
        Line($"targets: c1 step <= 2 raw commits: {(p50 <= 2 * 1000.0 / median1 ? "met" : "NOT met")} (p50 {p50:F3} ms vs 2 x {1000.0 / median1:F3} ms); c64 steps/s >= raw 8-connection commits/s: {(at64.Max() >= median8 ? "met" : "NOT met")} (best of 1, 2, 4 processes {at64.Max():F0} = {at64.Max() / median8:F2} x the median {median8:F0})");
        return 0;
    }

    /// <summary>A worker process of the throughput measurement: serves the schema until nothing is left, after the parent says go.</summary>
    public static async Task<int> ChildAsync(string connectionString, string schema, int concurrency)
    {
        var workload = new TenStepWorkload();
        await using var store = await PostgresWorkflowStore.OpenAsync(new PostgresStoreOptions { ConnectionString = connectionString, Schema = schema });
        var worker = new WorkflowWorker(store, workload.Registry, new WorkerOptions { MaxConcurrentRuns = concurrency });

        // A worker is a long-lived process: warm it up first (JIT tiers, pooled connections and their prepared
        // statements) on a queue of its own, so the measurement is the steady state rather than process start.
        var warmup = new WorkflowWorker(store, workload.Registry, new WorkerOptions { MaxConcurrentRuns = concurrency, Queues = ["warmup"] });
        var client = new WorkflowClient(store);
        // Rounds until the JIT is done: tiered compilation promotes hot methods in the background only after a
        // quiet spell, so a short warm-up would leave that work to the measurement (30 % of the workers' CPU).
        for (var round = 0; round < 30; round++)
        {
            var jitBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
            for (var r = 0; r < 100; r++)
            {
                await client.StartAsync(workload.Definition, new StartRunOptions { Queue = "warmup" });
            }

            await warmup.RunUntilIdleAsync(CancellationToken.None);
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            if (round >= 4 && System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore < 5)
            {
                break;
            }
        }

        await AnalyzeAsync(connectionString, schema);

        Console.WriteLine("ready");
        _ = await Console.In.ReadLineAsync();
        var cpuAtGo = Process.GetCurrentProcess().TotalProcessorTime;
        var (transactionsAtGo, groupedAtGo, singleAtGo) = (store.Transactions, store.GroupedCommits, store.SingleCommits);
        var (jitAtGo, jitTimeAtGo) = (System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompilationTime());
        await worker.RunUntilIdleAsync(CancellationToken.None);
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuAtGo).TotalMilliseconds;
        var jit = System.Runtime.JitInfo.GetCompiledMethodCount() - jitAtGo;
        var jitTime = (System.Runtime.JitInfo.GetCompilationTime() - jitTimeAtGo).TotalMilliseconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{cpu:F0} {store.Transactions - transactionsAtGo} {store.GroupedCommits - groupedAtGo} {store.SingleCommits - singleAtGo} {jit} {jitTime:F0}"));
        return 0;
    }

    private static async Task<(double Rate, string Cpu)> DrainAsync(string connectionString, int concurrency, int processes, int runs)
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

        var accounting = await PostgresAccounting.StartAsync(connectionString, schema);
        var busyBefore = MachineBusyMilliseconds();
        var sw = Stopwatch.StartNew();
        foreach (var c in children)
        {
            await c.StandardInput.WriteLineAsync("go");
            await c.StandardInput.FlushAsync();
        }

        var workerCpu = 0.0;
        var (transactions, grouped, single, jitted, jitMs) = (0L, 0L, 0L, 0L, 0.0);
        foreach (var c in children)
        {
            var figures = (await c.StandardOutput.ReadLineAsync())!.Split(' ');
            workerCpu += double.Parse(figures[0], CultureInfo.InvariantCulture);
            transactions += long.Parse(figures[1], CultureInfo.InvariantCulture);
            grouped += long.Parse(figures[2], CultureInfo.InvariantCulture);
            single += long.Parse(figures[3], CultureInfo.InvariantCulture);
            jitted += long.Parse(figures[4], CultureInfo.InvariantCulture);
            jitMs += double.Parse(figures[5], CultureInfo.InvariantCulture);
            await c.WaitForExitAsync();
            c.Dispose();
        }

        var elapsed = sw.Elapsed;
        var busy = MachineBusyMilliseconds() - busyBefore;
        var rate = runs * Steps / elapsed.TotalSeconds;
        var steps = (double)runs * Steps;
        var database = await accounting.ReportAsync(steps);
        var cpu = string.Create(CultureInfo.InvariantCulture, $"CPU per step {busy * 1000 / steps:F0} us ({workerCpu * 1000 / steps:F0} us in workers, the rest mostly PostgreSQL), machine {busy / elapsed.TotalMilliseconds / Environment.ProcessorCount:P0} busy; {transactions} write transactions, {grouped} commits in multi-row groups, {single} one by one; JIT in workers during the drain: {jitted} methods, {jitMs:F0} ms\n  database {database}");
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
        return (rate, cpu);
    }

    /// <summary>CPU time spent by the whole machine since boot (all cores, user + system), from /proc/stat.</summary>
    private static double MachineBusyMilliseconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var ticks = new[] { 1, 2, 3, 6, 7 }.Sum(i => long.Parse(fields[i], CultureInfo.InvariantCulture)); // user nice system irq softirq
        return ticks * 10.0; // USER_HZ is 100 on Linux
    }

    /// <summary>
    /// Gives the planner the statistics a database in use has (autovacuum would after a minute): a schema created
    /// seconds ago otherwise keeps the plans it got while its tables were empty.
    /// </summary>
    private static async Task AnalyzeAsync(string connectionString, string schema)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"ANALYZE {schema}.runs, {schema}.steps, {schema}.timeline, {schema}.signals", c);
        await cmd.ExecuteNonQueryAsync();
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
