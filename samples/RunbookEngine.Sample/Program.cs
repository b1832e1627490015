// The embedded default in one process: a durable workflow on .runbook/runbook.db, executed by an in-process
// worker, its timeline printed at the end. Kill it at any point and run it again with the same --key: the
// same run resumes where it stopped and no completed step runs twice. (The `runbook` CLI replaces this sample.)
using System.Globalization;
using System.Text.Json.Nodes;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

var key = "sample-disk-check";
var path = SqliteStoreOptions.DefaultPath;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--key" when i + 1 < args.Length:
            key = args[++i];
            break;
        case "--store" when i + 1 < args.Length:
            path = args[++i];
            break;
        case "-h" or "--help":
            Console.WriteLine("""
                runbook-sample: run a durable disk-check workflow on the embedded SQLite store.

                Usage: runbook-sample [--key KEY] [--store PATH]
                  --key KEY      idempotency key of the run (default sample-disk-check); run again with the
                                 same key to resume or re-read the same run, a new key starts a new one
                  --store PATH   SQLite database file (default .runbook/runbook.db)

                Example: dotnet run --project samples/RunbookEngine.Sample -- --key drill-1
                """);
            return 0;
        default:
            Console.Error.WriteLine($"runbook-sample: unknown argument '{args[i]}' (try --help)");
            return 2;
    }
}

SqliteWorkflowStore store;
try
{
    store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = path });
}
catch (WorkflowStoreException ex)
{
    Console.Error.WriteLine($"runbook-sample: {ex.Message}");
    return 1;
}

await using (store)
{
    var registry = new WorkflowRegistry();
    var definition = registry.Add("disk-check", async ctx =>
    {
        var target = ctx.GetInput<JsonObject>()?["path"]?.GetValue<string>() ?? ".";
        var usage = await ctx.StepAsync("measure", _ =>
        {
            var drive = new DriveInfo(Path.GetFullPath(target));
            return Task.FromResult(Math.Round(100.0 * (drive.TotalSize - drive.AvailableFreeSpace) / drive.TotalSize, 1));
        });
        ctx.Logger.LogUsage(usage);
        await ctx.DelayAsync(TimeSpan.FromSeconds(2), "settle");
        var verdict = await ctx.StepAsync("verdict", _ => Task.FromResult(usage > 90 ? "clean-up needed" : "healthy"));
        return new JsonObject { ["path"] = target, ["used_percent"] = usage, ["verdict"] = verdict };
    });

    var client = new WorkflowClient(store);
    using var stop = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        stop.Cancel();
    };

    await using var worker = new WorkflowWorker(store, registry, new WorkerOptions { PollInterval = TimeSpan.FromMilliseconds(100), ShutdownTimeout = TimeSpan.FromSeconds(5) });
    client.WorkAvailable = worker.Notify;
    var started = await client.StartAsync(definition, new StartRunOptions { IdempotencyKey = key, Actor = "user:" + Environment.UserName, Input = new JsonObject { ["path"] = "." } });
    var runId = started.Run.RunId;
    Console.WriteLine(started.Created ? $"started run {runId} (key {key})" : $"resuming run {runId} (key {key}, status {started.Run.Status.ToStoredName()})");

    var serving = worker.RunAsync(stop.Token);
    long seen = 0;
    RunRecord? run;
    while (true)
    {
        foreach (var e in await client.GetTimelineAsync(runId, seen))
        {
            Console.WriteLine($"  {e.Sequence,3}  {e.At.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)}  {e.Kind,-20} {e.Actor,-28} {e.Data}");
            seen = e.Sequence;
        }

        run = await client.GetRunAsync(runId);
        if (run!.Status.IsTerminal() || stop.IsCancellationRequested)
        {
            break;
        }

        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), stop.Token);
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C: leave the run where it is; it resumes with the same --key.
        }
    }

    await stop.CancelAsync();
    await serving;
    var timeline = await client.GetTimelineAsync(runId);
    var problem = TimelineChain.Verify(timeline);
    Console.WriteLine($"run {runId}: {run.Status.ToStoredName()} {run.Output ?? run.ErrorMessage}");
    Console.WriteLine(problem is null ? $"timeline: {timeline.Count} events, hash chain intact" : $"timeline: TAMPERED at event {problem.Value.Sequence}: {problem.Value.Problem}");
    return run.Status == RunStatus.Completed ? 0 : 1;
}

internal static partial class SampleLog
{
    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "Disk usage is {Usage}%")]
    public static partial void LogUsage(this Microsoft.Extensions.Logging.ILogger logger, double usage);
}
