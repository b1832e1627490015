using System.CommandLine;
using System.Text.Json.Nodes;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook validate PATH...</c>: checks runbooks and reports every problem as file:line:col.</summary>
internal static class ValidateCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var paths = new Argument<string[]>("path") { Description = "Runbook files or directories (default: the runbooks directory).", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("validate", """
            Check runbooks without running them. Every problem is reported as file:line:col: message.
            Exit 0 when all are valid, 2 otherwise.

            Example: runbook validate runbooks/ my-new-runbook.yaml
            """);
        command.Add(paths);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var given = parse.GetValue(paths) is { Length: > 0 } p ? p : [s.RunbooksDirectory];
            var (entries, missing) = s.Library.Load(given);
            foreach (var m in missing)
            {
                s.Error($"{m}: no such file or directory");
            }

            if (s.Json)
            {
                s.WriteJson(new JsonArray([.. entries.Select(e => (JsonNode)new JsonObject
                {
                    ["file"] = e.File,
                    ["name"] = e.Runbook?.Name,
                    ["valid"] = e.Runbook is not null,
                    ["problems"] = new JsonArray([.. e.Diagnostics.Select(d => (JsonNode)new JsonObject { ["file"] = d.Location.File, ["line"] = d.Location.Line, ["column"] = d.Location.Column, ["message"] = d.Message })]),
                })]));
            }
            else
            {
                foreach (var e in entries)
                {
                    s.PrintDiagnostics(e.Diagnostics);
                }

                var invalid = entries.Count(e => e.Runbook is null);
                if (entries.Count == 0 && missing.Count == 0)
                {
                    s.Error($"no runbook files (*.yaml, *.yml) in {string.Join(", ", given)}");
                }
                else
                {
                    s.Line(invalid == 0 ? $"{entries.Count} runbook(s) valid" : $"{invalid} of {entries.Count} runbook(s) invalid, {entries.Sum(e => e.Diagnostics.Count)} problem(s)");
                }
            }

            return entries.Count > 0 && missing.Count == 0 && entries.All(e => e.Runbook is not null) ? ExitCodes.Ok : ExitCodes.Invalid;
        });
        return command;
    }
}
