using System.CommandLine;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook runs</c>: recent runs, newest first.</summary>
internal static class RunsCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var status = new Option<string?>("--status") { Description = "Only runs with this status." }
            .AcceptOnlyFromAmong("ready", "running", "waiting", "completed", "failed", "cancelled");
        var runbook = new Option<string?>("--runbook") { Description = "Only runs of this runbook." };
        var limit = new Option<int>("--limit") { Description = "How many runs at most (default 20).", DefaultValueFactory = _ => 20 };
        var command = new Command("runs", """
            List runs, newest first.

            Example: runbook runs --status waiting --runbook deploy-rollback
            """);
        command.Add(status);
        command.Add(runbook);
        command.Add(limit);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            if (parse.GetValue(limit) is < 1 or > 10_000)
            {
                throw new CliException("--limit must be from 1 to 10000", ExitCodes.Invalid);
            }

            var client = await s.ClientAsync(ct).ConfigureAwait(false);
            var runs = await client.ListRunsAsync(
                new RunQuery
                {
                    Status = parse.GetValue(status) is { } st ? RunStatusExtensions.ParseStoredName(st) : null,
                    WorkflowName = parse.GetValue(runbook),
                    Limit = parse.GetValue(limit),
                },
                ct).ConfigureAwait(false);
            if (s.Json)
            {
                s.WriteJson(new JsonArray([.. runs.Select(r => (JsonNode)CliSession.RunJson(r))]));
            }
            else if (runs.Count == 0)
            {
                s.Line("no runs");
            }
            else
            {
                s.Table(
                    ["RUN", "RUNBOOK", "STATUS", "STARTED", "BY", "NOTE"],
                    runs.Select(r => (IReadOnlyList<string?>)[r.RunId, r.WorkflowName, r.Status.ToStoredName(), CliSession.Time(r.CreatedAt), r.CreatedBy, CliSession.IsDryRun(r) ? "dry-run" : r.ErrorKind]));
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
