// Load driver for the kernel benchmarks (per-step overhead and steps/s next to the raw commit limit).
//   dotnet run -c Release --project bench/RunbookEngine.Bench -- [--dir DIR] [--runs-c1 N] [--runs N] [--sync full|normal]
//   dotnet run -c Release --project bench/RunbookEngine.Bench -- --postgres "Host=127.0.0.1;Port=55433;Username=runbook;Database=postgres" [--runs-c1 N] [--runs N]
// Everything runs against files in DIR (default: a new folder under the system temp directory), so the raw
// limit and the engine are measured on the same file system in the same run.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows;

var dir = Path.Combine(Path.GetTempPath(), "runbook-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
var runsAtOne = 100;
var runsConcurrent = 400;
var sync = SqliteSynchronous.Full;
string? postgres = null;
if (args.Length == 4 && args[0] == "--postgres-child")
{
    return await RunbookEngine.Bench.PostgresBench.ChildAsync(args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture));
}

for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--postgres": postgres = args[++i]; break;
        case "--dir": dir = args[++i]; break;
        case "--runs-c1": runsAtOne = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--runs": runsConcurrent = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--sync": sync = args[++i] == "normal" ? SqliteSynchronous.Normal : SqliteSynchronous.Full; break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}

if (postgres is not null)
{
    return await RunbookEngine.Bench.PostgresBench.RunAsync(postgres, runsAtOne, runsConcurrent);
}

Directory.CreateDirectory(dir);
const int Steps = 10;
var report = new StringBuilder();
void Line(string s)
{
    Console.WriteLine(s);
    report.AppendLine(s);
}

// 1. The raw limit: single-row INSERT + COMMIT, one connection, same pragmas as the store.
var raw = RawCommits(Path.Combine(dir, "raw.db"), 2000, sync);
var rawLatencyMs = 1000.0 / raw;
Line($"raw single-row INSERT+COMMIT: {raw:F0} commits/s ({rawLatencyMs:F3} ms per commit), synchronous={sync}");

// 2. Per-step overhead at concurrency 1: time between consecutive step entries of one run.
var gaps = new List<double>();
double c1Rate;
{
    var (store, registry, def, marks) = await SetUpAsync(Path.Combine(dir, "c1.db"));
    await using var _ = store;
    var client = new WorkflowClient(store);
    var worker = new WorkflowWorker(store, registry, new WorkerOptions { MaxConcurrentRuns = 1 });
    var sw = Stopwatch.StartNew();
    for (var r = 0; r < runsAtOne; r++)
    {
        var run = (await client.StartAsync(def)).Run.RunId;
        await worker.RunUntilIdleAsync(CancellationToken.None);
        var ticks = marks[run];
        for (var s = 1; s < ticks.Count; s++)
        {
            gaps.Add((ticks[s] - ticks[s - 1]) * 1000.0 / Stopwatch.Frequency);
        }
    }

    c1Rate = runsAtOne * Steps / sw.Elapsed.TotalSeconds;
}

gaps.Sort();
var p50 = Percentile(gaps, 0.50);
var p99 = Percentile(gaps, 0.99);
Line($"concurrency 1: per-step overhead p50 {p50:F3} ms, p99 {p99:F3} ms ({p50 / rawLatencyMs:F2} and {p99 / rawLatencyMs:F2} raw commits); {c1Rate:F0} steps/s end to end (incl. start and claim of each run)");

// 3. Throughput at concurrency 8 and 64: a backlog of runs drained by one worker process.
var rates = new Dictionary<int, double>();
foreach (var concurrency in new[] { 8, 64 })
{
    var (store, registry, def, _) = await SetUpAsync(Path.Combine(dir, $"c{concurrency}.db"));
    await using var _ = store;
    var client = new WorkflowClient(store);
    for (var r = 0; r < runsConcurrent; r++)
    {
        await client.StartAsync(def);
    }

    var worker = new WorkflowWorker(store, registry, new WorkerOptions { MaxConcurrentRuns = concurrency });
    var sw = Stopwatch.StartNew();
    await worker.RunUntilIdleAsync(CancellationToken.None);
    rates[concurrency] = runsConcurrent * Steps / sw.Elapsed.TotalSeconds;
    Line($"concurrency {concurrency}: {rates[concurrency]:F0} steps/s ({rates[concurrency] / raw:F2} x the raw commit rate), {runsConcurrent} runs x {Steps} steps");
}

Line($"targets: c1 step <= 2 raw commits: {(p50 <= 2 * rawLatencyMs ? "met" : "NOT met")} (p50); c64 steps/s >= raw commits/s: {(rates[64] >= raw ? "met" : "NOT met")}");
Directory.Delete(dir, recursive: true);
return 0;

static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

static double RawCommits(string path, int count, SqliteSynchronous sync)
{
    using var c = new SqliteConnection($"Data Source={path}");
    c.Open();
    Exec(c, "PRAGMA journal_mode=WAL");
    Exec(c, sync == SqliteSynchronous.Full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    Exec(c, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
    using var insert = c.CreateCommand();
    insert.CommandText = "INSERT INTO t (v) VALUES ($v)";
    var v = insert.Parameters.Add("$v", SqliteType.Text);
    for (var warm = 0; warm < 50; warm++)
    {
        using var tx = c.BeginTransaction();
        insert.Transaction = tx;
        v.Value = "warm-up";
        insert.ExecuteNonQuery();
        tx.Commit();
    }

    var sw = Stopwatch.StartNew();
    for (var i = 0; i < count; i++)
    {
        using var tx = c.BeginTransaction(deferred: false);
        insert.Transaction = tx;
        v.Value = "step output " + i.ToString(CultureInfo.InvariantCulture);
        insert.ExecuteNonQuery();
        tx.Commit();
    }

    return count / sw.Elapsed.TotalSeconds;

    static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}

async Task<(SqliteWorkflowStore Store, WorkflowRegistry Registry, WorkflowDefinition Def, System.Collections.Concurrent.ConcurrentDictionary<string, List<long>> Marks)> SetUpAsync(string path)
{
    var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = path, Synchronous = sync });
    var registry = new WorkflowRegistry();
    var marks = new System.Collections.Concurrent.ConcurrentDictionary<string, List<long>>();
    var def = registry.Add("ten-noops", async ctx =>
    {
        for (var s = 1; s <= Steps; s++)
        {
            await ctx.StepAsync("noop-" + s.ToString(CultureInfo.InvariantCulture), sc =>
            {
                marks.GetOrAdd(sc.RunId, _ => []).Add(Stopwatch.GetTimestamp());
                return Task.FromResult(true);
            });
        }

        return (JsonNode?)null;
    });
    return (store, registry, def, marks);
}
