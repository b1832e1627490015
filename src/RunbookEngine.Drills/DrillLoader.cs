using RunbookEngine.Actions;
using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>Finds drill files and reads each with the runbook it replays, for <c>runbook drill run</c> and <c>runbook validate</c>.</summary>
public static class DrillLoader
{
    /// <summary>Lists the drill files under the given files and directories (recursively), in path order.</summary>
    /// <param name="paths">Files or directories.</param>
    /// <returns>The files, and the paths that do not exist.</returns>
    public static (IReadOnlyList<string> Files, IReadOnlyList<string> Missing) Files(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var files = new List<string>();
        var missing = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                files.AddRange(Directory.EnumerateFiles(path, "*.*", SearchOption.AllDirectories).Where(DrillParser.IsDrillFile).Order(StringComparer.Ordinal));
            }
            else if (File.Exists(path))
            {
                files.Add(path);
            }
            else
            {
                missing.Add(path);
            }
        }

        return (files, missing);
    }

    /// <summary>Reads a drill file and the runbook it replays, and checks one against the other.</summary>
    /// <param name="path">The drill file.</param>
    /// <param name="actions">The actions.</param>
    /// <param name="runbookDirectories">Where runbooks are found by name.</param>
    /// <param name="overrideRunbook">A runbook file to replay instead of the drill's (<c>--runbook</c>), or null.</param>
    /// <returns>The drill, its runbook and every problem.</returns>
    public static LoadedDrill Load(string path, ActionCatalog actions, IReadOnlyList<string> runbookDirectories, string? overrideRunbook = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(actions);
        var shown = RunbookLibrary.DisplayPath(path);
        string source;
        try
        {
            source = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new LoadedDrill(shown, null, null, [new RunbookDiagnostic(new SourceLocation(shown, 1, 1), $"cannot read the file: {ex.Message}")]);
        }

        var (drill, problems) = new DrillParser(actions).Parse(shown, source);
        if (drill is null)
        {
            return new LoadedDrill(shown, null, null, problems);
        }

        var (entry, notFound) = new DrillRunner(actions).FindRunbook(drill, path, overrideRunbook, runbookDirectories);
        if (entry is null)
        {
            return new LoadedDrill(shown, drill, null, [.. problems, notFound!]);
        }

        if (entry.Runbook is null)
        {
            var invalid = entry.Diagnostics.Count(d => !d.Warning);
            return new LoadedDrill(shown, drill, entry, [.. problems, new RunbookDiagnostic(drill.RunbookAt, $"runbook {entry.File} is invalid ({invalid} problem(s), below)"), .. entry.Diagnostics]);
        }

        return new LoadedDrill(shown, drill, entry, [.. problems.Concat(DrillParser.Check(drill, entry.Runbook)).OrderBy(d => d.Location.Line).ThenBy(d => d.Location.Column)]);
    }
}
