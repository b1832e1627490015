using System.Text.Json.Nodes;
using RunbookEngine.Runbooks;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Cli.Commands;

/// <summary>Executes a run in this process and prints its timeline as it happens.</summary>
internal static class Follower
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(150);

    public static async Task<int> FollowAsync(CliSession s, string runId, CancellationToken ct)
    {
        var store = await s.StoreAsync(ct).ConfigureAwait(false);
        var client = new WorkflowClient(store);
        var worker = await s.WorkerAsync(new WorkerOptions { PollInterval = TimeSpan.FromMilliseconds(200), ShutdownTimeout = TimeSpan.FromSeconds(10) }, ct).ConfigureAwait(false);
        await using var workerScope = worker.ConfigureAwait(false);
        using var stop = new CancellationTokenSource();
        var serving = worker.RunAsync(stop.Token);
        long seen = 0;
        var events = new List<TimelineEvent>();
        RunRecord run;
        var interrupted = false;
        try
        {
            while (true)
            {
                foreach (var e in await client.GetTimelineAsync(runId, seen, cancellationToken: CancellationToken.None).ConfigureAwait(false))
                {
                    events.Add(e);
                    seen = e.Sequence;
                    if (!s.Json)
                    {
                        s.Line($"  {e.At:HH:mm:ss}  {e.Kind,-22} {EventText.Describe(e)}");
                        if (e.Kind == "step.scheduled" && WorkflowJson.Parse(e.Data)?["queue"]?.GetValue<string>() is { } q && q != "default")
                        {
                            s.Line($"            (this process serves queue 'default'; start a worker for '{q}': runbook worker --queue {q})");
                        }
                    }
                }

                run = (await client.GetRunAsync(runId, CancellationToken.None).ConfigureAwait(false))!;
                if (run.Status.IsTerminal())
                {
                    break;
                }

                try
                {
                    await Task.Delay(Tick, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    interrupted = true;
                    break;
                }
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await serving.ConfigureAwait(false);
        }

        if (interrupted)
        {
            s.Error($"stopped following run {runId} ({run.Status.ToStoredName()}); it is kept in {s.StoreName}: `runbook worker` continues it, `runbook status {runId}` shows it");
            return ExitCodes.Interrupted;
        }

        var history = await store.LoadHistoryAsync(runId, CancellationToken.None).ConfigureAwait(false);
        if (s.Json)
        {
            var json = CliSession.RunJson(run);
            json["timeline"] = new JsonArray([.. events.Select(e => (JsonNode)CliSession.EventJson(e))]);
            if (CliSession.IsDryRun(run))
            {
                json["plan"] = new JsonArray([.. Plan(history).Select(p => (JsonNode)new JsonObject { ["step"] = p.Step, ["plan"] = p.Text })]);
            }

            s.WriteJson(json);
        }
        else
        {
            if (CliSession.IsDryRun(run))
            {
                s.Line();
                s.Line("Plan (dry-run; nothing was changed):");
                var n = 0;
                foreach (var (step, text) in Plan(history))
                {
                    s.Line($"  {++n}. {step}: {text}");
                }
            }

            s.Line();
            s.Line(run.Status switch
            {
                RunStatus.Completed => $"run {runId} completed" + (run.Output is { } o && o != "{}" ? $"; outputs: {o}" : string.Empty),
                RunStatus.Cancelled => $"run {runId} cancelled: {run.ErrorMessage}",
                _ => $"run {runId} failed: {run.ErrorKind}: {run.ErrorMessage}",
            });
        }

        return run.Status == RunStatus.Completed ? ExitCodes.Ok : ExitCodes.Failed;
    }

    /// <summary>The readable plan of a dry-run, in step order, from what its steps recorded.</summary>
    public static IEnumerable<(string Step, string Text)> Plan(RunHistory history)
    {
        foreach (var row in history.Steps)
        {
            if (WorkflowJson.Parse(row.Output) is not JsonObject o)
            {
                continue;
            }

            var step = o["step"]?.GetValue<string>() ?? row.Name;
            if (o["summary"]?.GetValue<string>() is { } summary)
            {
                yield return (step, summary);
            }
            else if (row.Name.EndsWith("/skipped", StringComparison.Ordinal))
            {
                yield return (step, $"skipped ({o["condition"]} is false)");
            }
            else if (row.Name.EndsWith("/when", StringComparison.Ordinal))
            {
                yield return (step, $"runs only if {o["condition"]} (depends on a planned step)");
            }
        }
    }
}
