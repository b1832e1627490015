using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Scripting;

namespace RunbookEngine.Runbooks;

/// <summary>One runbook file found in a directory, valid or not.</summary>
/// <param name="File">The path, relative to the working directory when possible.</param>
/// <param name="Runbook">The runbook, when valid.</param>
/// <param name="Diagnostics">Its problems.</param>
public sealed record RunbookEntry(string File, Runbook? Runbook, IReadOnlyList<RunbookDiagnostic> Diagnostics)
{
    /// <summary>Gets the runbook's name, or the file name when it has none.</summary>
    public string Name => Runbook?.Name ?? Path.GetFileNameWithoutExtension(File);
}

/// <summary>Finds runbooks: the <c>*.yaml</c>, <c>*.yml</c> and <c>*.csx</c> files of directories, or single files.</summary>
public sealed class RunbookLibrary
{
    private readonly ActionCatalog actions;

    /// <summary>Initializes a new instance of the <see cref="RunbookLibrary"/> class.</summary>
    /// <param name="actions">The actions runbooks may use.</param>
    public RunbookLibrary(ActionCatalog actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        this.actions = actions;
    }

    /// <summary>Whether a path names a runbook file by its extension.</summary>
    /// <param name="path">The path.</param>
    /// <returns>Whether it ends in .yaml, .yml or .csx.</returns>
    /// <remarks>A game-day drill (<c>*.drill.yaml</c>) is not a runbook, wherever it is kept.</remarks>
    public static bool IsRunbookFile(string path) =>
        !IsDrill(path) && (path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || ScriptRunbooks.IsScript(path));

    private static bool IsDrill(string path) =>
        path.EndsWith(".drill.yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".drill.yml", StringComparison.OrdinalIgnoreCase);

    /// <summary>Lists the runbook files under the given files and directories (recursively), in path order.</summary>
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
                files.AddRange(Directory.EnumerateFiles(path, "*.*", SearchOption.AllDirectories).Where(IsRunbookFile).Order(StringComparer.Ordinal));
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

    /// <summary>Loads every runbook file under the given files and directories (recursively), in path order.</summary>
    /// <param name="paths">Files or directories.</param>
    /// <returns>The entries, and the paths that do not exist.</returns>
    public (IReadOnlyList<RunbookEntry> Entries, IReadOnlyList<string> Missing) Load(IEnumerable<string> paths)
    {
        var (files, missing) = Files(paths);
        return ([.. files.Select(LoadFile)], missing);
    }

    /// <summary>A file's path as shown to people: relative to the working directory when under it.</summary>
    /// <param name="file">The file.</param>
    /// <returns>The path to show.</returns>
    public static string DisplayPath(string file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var shown = Path.IsPathRooted(file) ? Path.GetRelativePath(Directory.GetCurrentDirectory(), file) : file;
        return shown.StartsWith("..", StringComparison.Ordinal) ? file : shown;
    }

    /// <summary>Loads one file.</summary>
    /// <param name="file">The file.</param>
    /// <returns>The entry.</returns>
    public RunbookEntry LoadFile(string file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var shown = DisplayPath(file);
        string source;
        try
        {
            source = File.ReadAllText(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new RunbookEntry(shown, null, [new RunbookDiagnostic(new SourceLocation(shown, 1, 1), $"cannot read the file: {ex.Message}")]);
        }

        var (runbook, diagnostics) = Parse(actions, shown, source);
        return new RunbookEntry(shown, runbook, diagnostics);
    }

    /// <summary>Parses and validates a runbook of either language, by the file's extension (a script is compiled, or found in the cache).</summary>
    /// <param name="actions">The actions.</param>
    /// <param name="file">The path as shown in messages.</param>
    /// <param name="source">The text.</param>
    /// <returns>The runbook (null when there are problems) and every problem.</returns>
    public static (Runbook? Runbook, IReadOnlyList<RunbookDiagnostic> Diagnostics) Parse(ActionCatalog actions, string file, string source) =>
        ScriptRunbooks.IsScript(file)
            ? ScriptRunbooks.Parse(actions, file, source)

            // A parser per file: it keeps state while parsing, and the server loads runbooks from many requests at once.
            : new RunbookParser(actions).Parse(file, source);

    /// <summary>Finds a runbook by file path, or by name in a directory.</summary>
    /// <param name="nameOrFile">A runbook name or a file path.</param>
    /// <param name="directory">The runbooks directory.</param>
    /// <returns>The entry, or null with a message saying what exists.</returns>
    public (RunbookEntry? Entry, string? Problem) Find(string nameOrFile, string directory)
    {
        ArgumentNullException.ThrowIfNull(nameOrFile);
        if (File.Exists(nameOrFile))
        {
            return (LoadFile(nameOrFile), null);
        }

        if (IsRunbookFile(nameOrFile) || nameOrFile.Contains('/', StringComparison.Ordinal))
        {
            return (null, $"no runbook file '{nameOrFile}'");
        }

        if (!Directory.Exists(directory))
        {
            return (null, $"no runbook '{nameOrFile}': the runbooks directory '{directory}' does not exist (set --runbooks or RUNBOOK_PATH)");
        }

        return Match(Load([directory]).Entries, nameOrFile, directory);
    }

    /// <summary>Finds a runbook by name among loaded entries.</summary>
    /// <param name="entries">The runbooks of <paramref name="where"/>.</param>
    /// <param name="nameOrFile">The name.</param>
    /// <param name="where">Where they were loaded from, for the message.</param>
    /// <returns>The entry, or null with a message saying what exists.</returns>
    public static (RunbookEntry? Entry, string? Problem) Match(IReadOnlyList<RunbookEntry> entries, string nameOrFile, string where)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var match = entries.Where(e => e.Name == nameOrFile).ToList();
        if (match.Count == 1)
        {
            return (match[0], null);
        }

        if (match.Count > 1)
        {
            return (null, $"runbook name '{nameOrFile}' is used by several files: {string.Join(", ", match.Select(m => m.File))}");
        }

        var suggestion = RunbookParser.DidYouMean(nameOrFile, entries.Select(e => e.Name)) is { } s ? $" (did you mean '{s}'?)" : string.Empty;
        return (null, $"no runbook named '{nameOrFile}' in {where}{suggestion}; `runbook list` shows them");
    }
}
