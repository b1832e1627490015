// A host process for crash tests: the tests start it, wait for it to announce a crash point, and SIGKILL it.
//   start <db> <count> <key-prefix>                     start runs of the 'crashy' workflow (<db>: a SQLite file or pg|SCHEMA|CONNSTRING)
//   start-script <db> <count> <key-prefix>              start runs of the same five steps as a C# script runbook
//   work  <db> <side-file> [<crash>] [<lease-ms>]       serve until every run has ended; crash = before:N | during:N | after:N | progress:N
// Script runbooks are compiled into (or loaded from) <db>.scripts/; the worker prints how often it compiled.
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions;
using RunbookEngine.CrashHost;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Scripting;
using RunbookEngine.Storage.Postgres;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

if (args.Length < 3)
{
    await Console.Error.WriteLineAsync("usage: start <db> <count> <prefix> | work <db> <side-file> [crash] [lease-ms]");
    return 2;
}

// <db> is a SQLite file, or pg|SCHEMA|CONNECTION-STRING for a PostgreSQL schema.
var pg = args[1].StartsWith("pg|", StringComparison.Ordinal) ? args[1].Split('|', 3) : null;
await using IWorkflowStore store = pg is null
    ? await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = args[1] })
    : await PostgresWorkflowStore.OpenAsync(new PostgresStoreOptions { ConnectionString = pg[2], Schema = pg[1] });
ScriptCache.Directory = pg is null ? args[1] + ".scripts" : Path.Combine(Path.GetTempPath(), "crashhost-scripts-" + pg[1]);
var registry = new WorkflowRegistry();
var crash = args.Length > 3 && args[0] == "work" ? args[3] : "none";
// One side file per process, appended under a lock: .NET's append mode seeks rather than using O_APPEND,
// so concurrent appenders would overwrite each other's lines.
var sideFile = args[0] == "work" ? $"{args[2]}.{Environment.ProcessId}" : string.Empty;
using var sideLock = new SemaphoreSlim(1, 1);
var crashKind = crash.Split(':')[0];
var crashStep = crash.Contains(':', StringComparison.Ordinal) ? "s" + crash.Split(':')[1] : string.Empty;

void AnnounceAndHang()
{
    Console.WriteLine("CRASHPOINT");
    Console.Out.Flush();
    new ManualResetEventSlim(false).Wait(); // the test kills the process here
}

var definition = registry.Add("crashy", async ctx =>
{
    var total = 0;
    for (var i = 1; i <= 5; i++)
    {
        var name = "s" + i.ToString(CultureInfo.InvariantCulture);
        total += await ctx.StepAsync(name, async sc =>
        {
            if (crashKind == "before" && name == crashStep)
            {
                AnnounceAndHang();
            }

            // progress:N: step N saves progress (as an action does after starting a remote operation), then the
            // process is killed; the next attempt says what it was handed.
            var handed = sc.Progress?["operation"]?.GetValue<string>() ?? "-";
            await sideLock.WaitAsync(sc.CancellationToken);
            try
            {
                await File.AppendAllTextAsync(sideFile, $"{sc.RunId} {name} {sc.Attempt} {handed}\n", sc.CancellationToken);
            }
            finally
            {
                sideLock.Release();
            }

            if (crashKind == "progress" && name == crashStep && sc.Progress is null)
            {
                await sc.SaveProgressAsync(new JsonObject { ["operation"] = $"op-{sc.Attempt}" });
                AnnounceAndHang();
            }

            if (crashKind == "during" && name == crashStep)
            {
                AnnounceAndHang();
            }

            return i;
        });
    }

    return JsonValue.Create(total);
});

// The same five steps as a script runbook: each step is the 'crashpoint' action, which writes the side file.
var actions = ActionCatalog.CreateDefault().Add(new CrashPointAction(
    async (request, token) =>
    {
        if (crashKind == "before" && request.StepId == crashStep)
        {
            AnnounceAndHang();
        }

        await sideLock.WaitAsync(token);
        try
        {
            await File.AppendAllTextAsync(sideFile, $"{request.RunId} {request.StepId} {request.Attempt}\n", token);
        }
        finally
        {
            sideLock.Release();
        }

        if (crashKind == "during" && request.StepId == crashStep)
        {
            AnnounceAndHang();
        }
    }));

if (args[0] == "start-script")
{
    var (runbook, problems) = ScriptRunbooks.Parse(actions, "crashy.csx", CrashPointAction.Script);
    if (runbook is null)
    {
        await Console.Error.WriteLineAsync(string.Join('\n', problems));
        return 1;
    }

    var client = new WorkflowClient(store);
    for (var i = 0; i < int.Parse(args[2], CultureInfo.InvariantCulture); i++)
    {
        var run = await client.StartAsync(RunbookDefinitions.ToDefinition(runbook), new StartRunOptions { IdempotencyKey = $"{args[3]}-{i}", Actor = "user:crash-test", Input = new RunbookRunInput([]).ToJson() });
        Console.WriteLine(run.Run.RunId);
    }

    return 0;
}

if (args[0] == "start")
{
    var client = new WorkflowClient(store);
    var count = int.Parse(args[2], CultureInfo.InvariantCulture);
    for (var i = 0; i < count; i++)
    {
        var run = await client.StartAsync(definition, new StartRunOptions { IdempotencyKey = $"{args[3]}-{i}", Actor = "user:crash-test" });
        Console.WriteLine(run.Run.RunId);
    }

    return 0;
}

var lease = TimeSpan.FromMilliseconds(args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 1000);
var options = new WorkerOptions
{
    LeaseDuration = lease,
    HeartbeatInterval = lease / 4,
    PollInterval = TimeSpan.FromMilliseconds(50),
    MaxConcurrentRuns = 4,
    AfterCommit = (_, steps) =>
    {
        if (crashKind == "after" && steps.Any(s => s.Name == crashStep && s.Status == StepStatus.Completed))
        {
            AnnounceAndHang();
        }
    },
};
var compiledBefore = ScriptCache.Compilations;
await using var worker = new WorkflowWorker(store, new EitherResolver(registry, new RunbookResolver(actions)), options, new ActivityRegistry().AddRunbookActions(actions, NullLogger.Instance));
using var stop = new CancellationTokenSource();
var serving = worker.RunAsync(stop.Token);
while (true)
{
    var open = (await store.ListRunsAsync(new RunQuery { Limit = 100_000 }, CancellationToken.None)).Count(r => !r.Status.IsTerminal());
    if (open == 0)
    {
        break;
    }

    await Task.Delay(50);
}

await stop.CancelAsync();
await serving;
Console.WriteLine($"COMPILED {ScriptCache.Compilations - compiledBefore}");
Console.WriteLine("DONE");
return 0;
