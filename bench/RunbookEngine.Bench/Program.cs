// Load driver for the kernel benchmarks (per-step overhead and steps/s next to the raw commit limit).
//   dotnet run -c Release --project bench/RunbookEngine.Bench -- [--dir DIR] [--runs-c1 N] [--runs N] [--sync full|normal]
//   dotnet run -c Release --project bench/RunbookEngine.Bench -- --postgres "Host=127.0.0.1;Port=55433;Username=runbook;Database=postgres" [--runs-c1 N] [--runs N] [--drains C:P,...] [--c1-only]
//   dotnet run -c Release --project bench/RunbookEngine.Bench -- --scripts [--repeat N]   (C# script runbooks: cold compile, start to first step)
//   dotnet run -c Release --project bench/RunbookEngine.Bench -- --alerts [--rate N] [--seconds N] [--sustained N] [--overload N]   (alert to first step through the server)
//   dotnet run -c Release --project bench/RunbookEngine.Bench -- --telemetry [--rounds N] [--runs-c1 N] [--runs N] [--concurrency N]   (telemetry off vs on)
//   dotnet run -c Release --project bench/RunbookEngine.Bench -- --prune [--runs N] [--postgres CS]   (prune speed on ~1M events, and a write's latency meanwhile)
//   dotnet run -c Release --project bench/RunbookEngine.Bench -- --powershell [--samples N] [--runs N]   (PowerShell steps next to shell steps)
// Everything runs against files in DIR (default: a new folder under the system temp directory), so the raw
// limit and the engine are measured on the same file system in the same run.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using RunbookEngine.Bench;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows;

var dir = Path.Combine(Path.GetTempPath(), "runbook-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
var runsAtOne = 100;
var runsConcurrent = 1500;
var sync = SqliteSynchronous.Full;
string? postgres = null;
List<(int, int)>? drains = null;
var c1Only = false;
if (args.Length == 3 && args[0] == "--compile-child")
{
    return ScriptBench.CompileChild(args[1], args[2]);
}

if (args.Length == 1 && args[0] == "--powershell-cold-child")
{
    return await PowerShellBench.ColdChildAsync();
}

if (args.Length >= 1 && args[0] == "--powershell")
{
    int PsArg(string name, int fallback) => Array.IndexOf(args, name) is var k and >= 0 && k + 1 < args.Length ? int.Parse(args[k + 1], CultureInfo.InvariantCulture) : fallback;
    return await PowerShellBench.RunAsync(PsArg("--samples", 5), PsArg("--runs", 100));
}

if (args.Length >= 1 && args[0] == "--telemetry")
{
    int TArg(string name, int fallback) => Array.IndexOf(args, name) is var k and >= 0 && k + 1 < args.Length ? int.Parse(args[k + 1], CultureInfo.InvariantCulture) : fallback;
    return await TelemetryBench.RunAsync(TArg("--rounds", 3), TArg("--runs-c1", 100), TArg("--runs", 1000), TArg("--concurrency", 16));
}

if (args.Length >= 1 && args[0] == "--prune")
{
    string? PArg(string name) => Array.IndexOf(args, name) is var k and >= 0 && k + 1 < args.Length ? args[k + 1] : null;
    return await RunbookEngine.Bench.PruneBench.RunAsync(int.Parse(PArg("--runs") ?? "48000", CultureInfo.InvariantCulture), PArg("--postgres"));
}

if (args.Length >= 1 && args[0] == "--drills")
{
    return await DrillBench.RunAsync(args.Length == 3 && args[1] == "--rounds" ? int.Parse(args[2], CultureInfo.InvariantCulture) : 7);
}

if (args.Length >= 1 && args[0] == "--scripts")
{
    return await ScriptBench.RunAsync(args.Length == 3 && args[1] == "--repeat" ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10);
}

if (args.Length >= 1 && args[0] == "--alerts")
{
    int Arg(string name, int fallback) => Array.IndexOf(args, name) is var k and >= 0 && k + 1 < args.Length ? int.Parse(args[k + 1], CultureInfo.InvariantCulture) : fallback;
    return await AlertBench.RunAsync(Arg("--rate", 100), Arg("--seconds", 30), Arg("--sustained", 30_000), Arg("--overload", 2000));
}

if (args.Length == 4 && args[0] == "--postgres-child")
{
    return await RunbookEngine.Bench.PostgresBench.ChildAsync(args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture));
}

for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--postgres": postgres = args[++i]; break;
        case "--drains":
            drains = args[++i].Split(',').Select(d => d.Split(':')).Select(d => (int.Parse(d[0], CultureInfo.InvariantCulture), int.Parse(d[1], CultureInfo.InvariantCulture))).ToList();
            break;
        case "--c1-only": c1Only = true; break;
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
    return await RunbookEngine.Bench.PostgresBench.RunAsync(postgres, runsAtOne, runsConcurrent, drains, c1Only);
}

Directory.CreateDirectory(dir);
const int Steps = TenStepWorkload.Steps;
var report = new StringBuilder();
void Line(string s)
{
    Console.WriteLine(s);
    report.AppendLine(s);
}

// 1. The raw limit: single-row INSERT + COMMIT, one connection, same pragmas as the store.
var raw = RawCommits(Path.Combine(dir, "raw.db"), 2000, sync);
var rawLatencyMs = 1000.0 / raw;
Line($"raw single-row INSERT+COMMIT: {raw:F0} commits/s ({rawLatencyMs:F3} ms per commit), synchronous={sync}, SQLite {SqliteVersion(Path.Combine(dir, "raw.db"))}");

// 2. Per-step overhead at concurrency 1: time between consecutive step entries of one run.
List<double> gaps;
double c1Rate;
await using (var c1 = await OpenAsync(Path.Combine(dir, "c1.db")))
{
    (gaps, c1Rate) = await new TenStepWorkload().MeasureOneAtATimeAsync(c1, runsAtOne);
}

var p50 = TenStepWorkload.Percentile(gaps, 0.50);
var p99 = TenStepWorkload.Percentile(gaps, 0.99);
Line($"concurrency 1: per-step overhead p50 {p50:F3} ms, p99 {p99:F3} ms ({p50 / rawLatencyMs:F2} and {p99 / rawLatencyMs:F2} raw commits); {c1Rate:F0} steps/s end to end (incl. start and claim of each run)");

// 3. Throughput at concurrency 8 and 64: a backlog of runs drained by one worker process.
var rates = new Dictionary<int, double>();
foreach (var concurrency in new[] { 8, 64 })
{
    var workload = new TenStepWorkload();
    await using var store = await OpenAsync(Path.Combine(dir, $"c{concurrency}.db"));
    var client = new WorkflowClient(store);
    for (var r = 0; r < runsConcurrent; r++)
    {
        await client.StartAsync(workload.Definition);
    }

    var worker = new WorkflowWorker(store, workload.Registry, new WorkerOptions { MaxConcurrentRuns = concurrency });
    var sw = Stopwatch.StartNew();
    await worker.RunUntilIdleAsync(CancellationToken.None);
    rates[concurrency] = runsConcurrent * Steps / sw.Elapsed.TotalSeconds;
    Line($"concurrency {concurrency}: {rates[concurrency]:F0} steps/s ({rates[concurrency] / raw:F2} x the raw commit rate), {runsConcurrent} runs x {Steps} steps");
}

Line($"targets: c1 step <= 2 raw commits: {(p50 <= 2 * rawLatencyMs ? "met" : "NOT met")} (p50); c64 steps/s >= raw commits/s: {(rates[64] >= raw ? "met" : "NOT met")}");
Directory.Delete(dir, recursive: true);
return 0;

static string SqliteVersion(string path)
{
    using var c = new SqliteConnection($"Data Source={path}");
    c.Open();
    using var q = c.CreateCommand();
    q.CommandText = "SELECT sqlite_version()";
    return (string)q.ExecuteScalar()!;
}

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

async Task<SqliteWorkflowStore> OpenAsync(string path) =>
    await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = path, Synchronous = sync });
