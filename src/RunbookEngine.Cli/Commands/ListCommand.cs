using System.CommandLine;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook list</c>: the runbooks found, with description and validity.</summary>
internal static class ListCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var command = new Command("list", """
            List the runbooks (.yaml, .yml, .csx) in the runbooks directory (--runbooks, env RUNBOOK_PATH, default
            ./runbooks).

            Example: runbook list --runbooks ./ops/runbooks
            """);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var entries = await service.ListRunbooksAsync(ct).ConfigureAwait(false);
            if (s.Json)
            {
                s.WriteJson(entries);
            }
            else
            {
                s.Table(
                    ["NAME", "VALID", "TRIGGERS", "LAST RUN", "FILE", "DESCRIPTION"],
                    entries.Select(e => (IReadOnlyList<string?>)[
                        e.Name,
                        e.Valid ? "yes" : $"no ({e.Problems} problems)",
                        e.Triggers.Count == 0 ? "-" : string.Join("; ", e.Triggers.Select(t => (t.Source ?? "any") + (t.Match.Count > 0 ? ": " + string.Join(", ", t.Match) : string.Empty))),
                        e.LastRun is { } last ? $"{last.Status} {CliSession.Time(last.CreatedAt)}" : "never",
                        e.File,
                        FirstLine(e.Description)]));
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static string? FirstLine(string? text) => text?.Split('\n')[0].Trim();
}
