using RunbookEngine.Runbooks.Service;
using RunbookEngine.Workflows;

namespace RunbookEngine.Cli.Commands;

/// <summary>Follows a run and prints its timeline as it happens; embedded, it also executes the run in this process.</summary>
internal static class Follower
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(150);

    public static async Task<int> FollowAsync(CliSession s, string runId, CancellationToken ct)
    {
        var service = await s.ServiceAsync(ct).ConfigureAwait(false);
        using var stop = new CancellationTokenSource();
        var stopped = s.IsRemote ? () => Task.CompletedTask : await s.StartLocalWorkerAsync(stop.Token, ct).ConfigureAwait(false);

        long seen = 0;
        var events = new List<EventView>();
        RunView run;
        var interrupted = false;
        try
        {
            async Task ReadNewEventsAsync()
            {
                foreach (var e in (await service.GetTimelineAsync(runId, seen, CancellationToken.None).ConfigureAwait(false)).Events)
                {
                    events.Add(e);
                    seen = e.Seq;
                    if (!s.Json)
                    {
                        s.Line($"  {e.At:HH:mm:ss}  {e.Kind,-22} {EventText.Describe(e)}");
                        if (!s.IsRemote && !s.IsTemporal && e.Kind == "step.scheduled" && e.Data?["queue"]?.GetValue<string>() is { } q && q != "default")
                        {
                            s.Line($"            (this process serves queue 'default'; start a worker for '{q}': runbook worker --queue {q})");
                        }
                    }
                }
            }

            while (true)
            {
                await ReadNewEventsAsync().ConfigureAwait(false);
                run = await service.GetRunAsync(runId, CancellationToken.None).ConfigureAwait(false);
                if (run.IsTerminal)
                {
                    // What the run wrote between the timeline read and the status read (run.completed, ...).
                    await ReadNewEventsAsync().ConfigureAwait(false);
                    break;
                }

                try
                {
                    await Task.Delay(Tick, TimeProvider.System, ct).ConfigureAwait(false);
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
            await stopped().ConfigureAwait(false);
        }

        if (interrupted)
        {
            s.Error(s.IsRemote
                ? $"stopped following run {runId} ({run.Status}); it goes on on the server: `runbook status {runId}` shows it"
                : $"stopped following run {runId} ({run.Status}); it is kept in {s.RunsName}: `runbook worker{(s.IsTemporal ? " --engine temporal" : string.Empty)}` continues it, `runbook status {runId}` shows it");
            return ExitCodes.Interrupted;
        }

        var plan = run.DryRun ? (await service.GetRunDetailAsync(runId, CancellationToken.None).ConfigureAwait(false)).Plan : [];
        if (s.Json)
        {
            var json = CliSession.ToObject(run);
            json["timeline"] = System.Text.Json.JsonSerializer.SerializeToNode(events);
            if (run.DryRun)
            {
                json["plan"] = System.Text.Json.JsonSerializer.SerializeToNode(plan);
            }

            s.WriteJson(json);
        }
        else
        {
            if (run.DryRun)
            {
                s.Line();
                s.Line("Plan (dry-run; nothing was changed):");
                var n = 0;
                foreach (var line in plan)
                {
                    s.Line($"  {++n}. {line.Step}: {line.Plan}");
                }
            }

            s.Line();
            s.Line(run.Status switch
            {
                "completed" => $"run {runId} completed" + (run.Output is { } o && o.ToJsonString() != "{}" ? $"; outputs: {o.ToJsonString()}" : string.Empty),
                "cancelled" => $"run {runId} cancelled: {run.Error}",
                "blocked" => $"run {runId} blocked by a guard: {run.Error}\n`runbook guards` shows every guard's state; `runbook guards reset KEY --reason TEXT` overrides one",
                _ => $"run {runId} failed: {run.ErrorKind}: {run.Error}",
            });
        }

        return run.Status switch
        {
            "completed" => ExitCodes.Ok,
            "blocked" => ExitCodes.Blocked,
            _ => ExitCodes.Failed,
        };
    }
}
