using System.CommandLine;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook timeline RUN</c>: the run's append-only, hash-chained timeline.</summary>
internal static class TimelineCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var id = new Argument<string>("run") { Description = "The run id." };
        var format = new Option<string?>("--format") { Description = "table (default), json, or md (a Markdown table for an incident report)." }
            .AcceptOnlyFromAmong("table", "json", "md");
        var command = new Command("timeline", """
            Show everything that happened in a run, in order, and check the hash chain that makes the timeline
            tamper-evident. Exit 1 if the chain is broken.

            Example: runbook timeline run_0193c3d2... --format md > incident-4711.md
            """);
        command.Add(id);
        command.Add(format);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var run = await s.RunAsync(parse.GetValue(id)!, ct).ConfigureAwait(false);
            var store = await s.StoreAsync(ct).ConfigureAwait(false);
            var events = await store.GetTimelineAsync(run.RunId, 0, int.MaxValue, ct).ConfigureAwait(false);
            var broken = TimelineChain.Verify(events);
            var chain = broken is null ? $"hash chain intact ({events.Count} events)" : $"hash chain BROKEN at event {broken.Value.Sequence}: {broken.Value.Problem}";
            switch (parse.GetValue(format) ?? (s.Json ? "json" : "table"))
            {
                case "json":
                    s.WriteJson(new JsonObject
                    {
                        ["run_id"] = run.RunId,
                        ["chain_intact"] = broken is null,
                        ["chain_problem"] = broken?.Problem,
                        ["events"] = new JsonArray([.. events.Select(e => (JsonNode)CliSession.EventJson(e))]),
                    });
                    break;
                case "md":
                    s.Line($"# Run {run.RunId}: {run.WorkflowName} ({run.Status.ToString().ToLowerInvariant()})");
                    s.Line();
                    s.Line("| # | time (UTC) | actor | event | details |");
                    s.Line("|---|---|---|---|---|");
                    foreach (var e in events)
                    {
                        s.Line($"| {e.Sequence} | {CliSession.Time(e.At)} | {e.Actor} | {e.Kind} | {EventText.Describe(e).Replace("|", "\\|", StringComparison.Ordinal)} |");
                    }

                    s.Line();
                    s.Line($"_{chain}_");
                    break;
                default:
                    s.Table(
                        ["#", "TIME", "ACTOR", "EVENT", "DETAILS"],
                        events.Select(e => (IReadOnlyList<string?>)[e.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture), CliSession.Time(e.At), e.Actor, e.Kind, EventText.Describe(e)]));
                    s.Line(chain);
                    break;
            }

            return broken is null ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }
}
