using System.CommandLine;
using System.Text.Json.Nodes;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook list</c>: the runbooks found, with description and validity.</summary>
internal static class ListCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var command = new Command("list", """
            List the runbooks in the runbooks directory (--runbooks, env RUNBOOK_PATH, default ./runbooks).

            Example: runbook list --runbooks ./ops/runbooks
            """);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            if (!Directory.Exists(s.RunbooksDirectory))
            {
                throw new CliException($"the runbooks directory '{s.RunbooksDirectory}' does not exist (set --runbooks or RUNBOOK_PATH)", ExitCodes.Invalid);
            }

            var (entries, _) = s.Library.Load([s.RunbooksDirectory]);
            if (s.Json)
            {
                s.WriteJson(new JsonArray([.. entries.Select(e => (JsonNode)new JsonObject
                {
                    ["name"] = e.Name,
                    ["description"] = e.Runbook?.Description,
                    ["file"] = e.File,
                    ["valid"] = e.Runbook is not null,
                    ["problems"] = e.Diagnostics.Count,
                    ["inputs"] = new JsonArray([.. (e.Runbook?.Inputs ?? []).Select(i => JsonValue.Create(i.Name))]),
                })]));
            }
            else
            {
                s.Table(
                    ["NAME", "VALID", "FILE", "DESCRIPTION"],
                    entries.Select(e => (IReadOnlyList<string?>)[e.Name, e.Runbook is null ? $"no ({e.Diagnostics.Count} problems)" : "yes", e.File, FirstLine(e.Runbook?.Description)]));
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static string? FirstLine(string? text) => text?.Split('\n')[0].Trim();
}
