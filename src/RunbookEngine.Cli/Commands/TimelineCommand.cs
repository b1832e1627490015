using System.CommandLine;
using RunbookEngine.Runbooks.Service;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook timeline RUN</c>: the run's append-only, hash-chained timeline.</summary>
internal static class TimelineCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var id = new Argument<string>("run") { Description = "The run id." };
        var format = new Option<string?>("--format") { Description = "table (default), json, or md (a Markdown table for an incident report)." }
            .AcceptOnlyFromAmong("table", "json", "md");
        var last = new Option<int?>("--last") { Description = "Only the newest N events (the hash chain is still checked over all of them).", HelpName = "N" };
        var kind = new Option<string[]>("--kind") { Description = "Only events of this kind, e.g. approval.granted; ending in '.' it is a prefix (step.); repeatable.", HelpName = "KIND" };
        var command = new Command("timeline", """
            Show everything that happened in a run, in order, and check the hash chain that makes the timeline
            tamper-evident. Exit 1 if the chain is broken.

            Example: runbook timeline run_0193c3d2... --format md > incident-4711.md
                     runbook timeline run_0193c3d2... --kind approval. --kind guard. --last 20
            """);
        command.Add(id);
        command.Add(format);
        command.Add(last);
        command.Add(kind);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var runId = parse.GetValue(id)!;
            if (parse.GetValue(last) is { } n && n is < 1 or > 100_000)
            {
                throw new CliException($"--last must be from 1 to 100000 (got {n})", ExitCodes.Invalid);
            }

            var kinds = parse.GetValue(kind) ?? [];
            var whole = await service.GetTimelineAsync(runId, 0, ct).ConfigureAwait(false);
            var timeline = parse.GetValue(last) is null && kinds.Length == 0 ? whole : whole.Page(null, kinds, parse.GetValue(last));
            var events = timeline.Events;
            var chain = (timeline.ChainIntact ? $"hash chain intact ({whole.Events.Count} events)" : $"hash chain BROKEN {timeline.ChainProblem}")
                + (timeline.Earlier > 0 ? $"; {timeline.Earlier} earlier event(s) not shown (--last)" : string.Empty)
                + (kinds.Length > 0 ? $"; showing {string.Join(", ", kinds)} only" : string.Empty);
            switch (parse.GetValue(format) ?? (s.Json ? "json" : "table"))
            {
                case "json":
                    s.WriteJson(timeline);
                    break;
                case "md":
                    var run = await service.GetRunAsync(runId, ct).ConfigureAwait(false);
                    s.Line($"# Run {run.RunId}: {run.Runbook} ({run.Status})");
                    s.Line();
                    s.Line("| # | time (UTC) | actor | event | details |");
                    s.Line("|---|---|---|---|---|");
                    foreach (var e in events)
                    {
                        s.Line($"| {e.Seq} | {CliSession.Time(e.At)} | {e.Actor} | {e.Kind} | {EventText.Describe(e).Replace("|", "\\|", StringComparison.Ordinal)} |");
                    }

                    s.Line();
                    s.Line($"_{chain}_");
                    break;
                default:
                    s.Table(
                        ["#", "TIME", "ACTOR", "EVENT", "DETAILS"],
                        events.Select(e => (IReadOnlyList<string?>)[e.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), CliSession.Time(e.At), e.Actor, e.Kind, EventText.Describe(e)]));
                    s.Line(chain);
                    break;
            }

            return timeline.ChainIntact ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }
}
