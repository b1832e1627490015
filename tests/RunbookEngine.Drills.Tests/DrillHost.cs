using RunbookEngine.Actions;
using RunbookEngine.PowerShell;

namespace RunbookEngine.Drills.Tests;

/// <summary>A scratch directory with runbooks and drills written by a test, and the drill runner over the real catalog.</summary>
public sealed class DrillHost : IDisposable
{
    static DrillHost() => RunbookEngine.Runbooks.Scripting.ScriptCache.Directory ??= Path.Combine(Path.GetTempPath(), "runbook-drill-tests", $"scripts-{Environment.ProcessId}");

    public DrillHost()
    {
        Directory = Path.Combine(Path.GetTempPath(), "runbook-drill-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "runbooks"));
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "drills"));
    }

    public static ActionCatalog Actions { get; } = ActionCatalog.CreateDefault().AddPowerShell();

    public static string Examples => AppContext.BaseDirectory;

    public string Directory { get; }

    public string Runbooks => Path.Combine(Directory, "runbooks");

    public string Runbook(string name, string yaml)
    {
        var path = Path.Combine(Runbooks, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    public string Drill(string name, string yaml)
    {
        var path = Path.Combine(Directory, "drills", name);
        File.WriteAllText(path, yaml);
        return path;
    }

    public static LoadedDrill Load(string path, string runbooks, string? overrideRunbook = null) => DrillLoader.Load(path, Actions, [runbooks], overrideRunbook);

    public LoadedDrill Load(string path) => Load(path, Runbooks);

    public static async Task<DrillResult> RunAsync(LoadedDrill loaded)
    {
        Assert.True(loaded.Valid, string.Join('\n', loaded.Diagnostics));
        return await new DrillRunner(Actions).RunAsync(loaded.Drill!, loaded.Runbook!, CancellationToken.None);
    }

    public Task<DrillResult> RunAsync(string drillPath) => RunAsync(Load(drillPath));

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS.
        }
    }
}
