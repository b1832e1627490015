using System.CommandLine;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook runs</c>: recent runs, newest first.</summary>
internal static class RunsCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var status = new Option<string?>("--status") { Description = "Only runs with this status." }
            .AcceptOnlyFromAmong("ready", "running", "waiting", "completed", "failed", "cancelled", "blocked");
        var runbook = new Option<string?>("--runbook") { Description = "Only runs of this runbook." };
        var target = new Option<string?>("--target") { Description = "Only runs on this target: a guarded runbook's guard key, as `runbook guards` lists it (e.g. restart-service/web-1)." };
        var startedBy = new Option<string?>("--started-by") { Description = "Only runs whose starter begins with this: alert: (any alert), alert:grafana/, user:ada." };
        var limit = new Option<int>("--limit") { Description = "How many runs at most (default 20).", DefaultValueFactory = _ => 20 };
        var command = new Command("runs", """
            List runs, newest first.

            Examples:
              runbook runs --status waiting --runbook deploy-rollback
              runbook runs --target restart-service/web-1 --started-by alert:
            """);
        command.Add(status);
        command.Add(runbook);
        command.Add(target);
        command.Add(startedBy);
        command.Add(limit);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var runs = await service.ListRunsAsync(
                new Runbooks.Service.RunFilter
                {
                    Status = parse.GetValue(status),
                    Runbook = parse.GetValue(runbook),
                    Target = parse.GetValue(target),
                    StartedBy = parse.GetValue(startedBy),
                    Limit = parse.GetValue(limit),
                },
                ct).ConfigureAwait(false);
            if (s.Json)
            {
                s.WriteJson(runs);
            }
            else if (runs.Count == 0)
            {
                s.Line("no runs");
            }
            else
            {
                s.Table(
                    ["RUN", "RUNBOOK", "STATUS", "STARTED", "BY", "NOTE"],
                    runs.Select(r => (IReadOnlyList<string?>)[r.RunId, r.Runbook, r.Status, CliSession.Time(r.CreatedAt), r.StartedBy, string.Join(", ", new[] { r.Drill is { } d ? "drill " + d : null, r.DryRun ? "dry-run" : r.ErrorKind }.OfType<string>())]));
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
