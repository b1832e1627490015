using System.CommandLine;
using RunbookEngine.Drills;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Service;

namespace RunbookEngine.Cli.Commands;

/// <summary><c>runbook validate PATH...</c>: checks runbooks and reports every problem as file:line:col.</summary>
internal static class ValidateCommand
{
    public static Command Create(Func<ParseResult, CliSession> session)
    {
        var paths = new Argument<string[]>("path") { Description = "Runbook files or directories (default: the runbooks directory).", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("validate", """
            Check runbooks without running them: YAML (.yaml, .yml) and C# scripts (.csx, compiled and cached),
            and game-day drills (*.drill.yaml) together with the runbook each replays.
            Every problem is reported as file:line:col: message. Exit 0 when all are valid, 2 otherwise.

            Example: runbook validate runbooks/ my-new-runbook.yaml restart-pods.csx drills/
            """);
        command.Add(paths);
        command.SetAction(async (parse, ct) =>
        {
            await using var s = session(parse);
            var given = parse.GetValue(paths) is { Length: > 0 } p ? p : [s.RunbooksDirectory];
            var (found, missing) = RunbookLibrary.Files(given);
            var files = found.Where(f => !DrillParser.IsDrillFile(f)).ToList();
            var drillFiles = found.Where(DrillParser.IsDrillFile).Concat(DrillLoader.Files(given.Where(Directory.Exists)).Files).Distinct(StringComparer.Ordinal).ToList();
            foreach (var m in missing)
            {
                s.Error($"{m}: no such file or directory");
            }

            var sources = new List<RunbookSource>();
            var unreadable = new List<ValidationReport>();
            foreach (var file in files)
            {
                var shown = RunbookLibrary.DisplayPath(file);
                try
                {
                    sources.Add(new RunbookSource(shown, await File.ReadAllTextAsync(file, ct).ConfigureAwait(false)));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    unreadable.Add(new ValidationReport(shown, null, false, [new ProblemView(shown, 1, 1, $"cannot read the file: {ex.Message}")]));
                }
            }

            var service = await s.ServiceAsync(ct).ConfigureAwait(false);
            var drills = drillFiles.Select(f => DrillLoader.Load(f, s.Actions, [s.RunbooksDirectory]))
                .Select(d => new ValidationReport(d.File, d.Drill?.Name, d.Valid, [.. d.Diagnostics.Select(LocalRunbookService.Problem)])).ToList();
            var entries = (sources.Count == 0 ? [] : await service.ValidateAsync(sources, ct).ConfigureAwait(false)).Concat(unreadable).Concat(drills).OrderBy(e => e.File, StringComparer.Ordinal).ToList();
            if (s.Json)
            {
                s.WriteJson(entries);
            }
            else
            {
                foreach (var problem in entries.SelectMany(e => e.Problems))
                {
                    s.Error(problem.ToString());
                }

                var invalid = entries.Count(e => !e.Valid);
                if (entries.Count == 0 && missing.Count == 0)
                {
                    s.Error($"no runbook files (*.yaml, *.yml, *.csx) or drills (*.drill.yaml) in {string.Join(", ", given)}");
                }
                else
                {
                    var warnings = entries.Sum(e => e.Problems.Count(p => p.Severity == "warning"));
                    var also = warnings == 0 ? string.Empty : $", {warnings} warning(s)";
                    var what = drills.Count == 0 ? "runbook(s)" : sources.Count + unreadable.Count == 0 ? "drill(s)" : "runbook(s) and drill(s)";
                    s.Line(invalid == 0 ? $"{entries.Count} {what} valid{also}" : $"{invalid} of {entries.Count} {what} invalid, {entries.Sum(e => e.Problems.Count) - warnings} problem(s){also}");
                }
            }

            return entries.Count > 0 && missing.Count == 0 && entries.All(e => e.Valid) ? ExitCodes.Ok : ExitCodes.Invalid;
        });
        return command;
    }
}
