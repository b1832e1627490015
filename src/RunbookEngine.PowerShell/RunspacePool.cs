using System.Collections.Concurrent;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using RunbookEngine.Workflows;
using PSExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy;

namespace RunbookEngine.PowerShell;

/// <summary>What a runspace is opened with: steps with the same settings share warm runspaces.</summary>
/// <param name="LanguageMode">Full or constrained language.</param>
/// <param name="Modules">Module paths imported when the runspace opens, in order.</param>
/// <param name="ExecutionPolicy">The execution policy (applies on Windows; on Linux and macOS PowerShell has none).</param>
internal sealed record SessionSettings(PSLanguageMode LanguageMode, string Modules, PSExecutionPolicy? ExecutionPolicy)
{
    public static readonly SessionSettings Default = new(PSLanguageMode.FullLanguage, string.Empty, null);

    public IEnumerable<string> ModulePaths => Modules.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>One runspace and its host, lent to one step at a time.</summary>
internal sealed class RentedRunspace(Runspace runspace, ScriptHost host, SessionSettings settings)
{
    public Runspace Runspace { get; } = runspace;

    public ScriptHost Host { get; } = host;

    public SessionSettings Settings { get; } = settings;
}

/// <summary>
/// Warm runspaces per <see cref="SessionSettings"/>: opening one costs 10–40 ms (the process's first about 1.7 s),
/// an invocation on an open one about 1 ms, so a worker keeps them open between steps. A runspace runs one pipeline
/// at a time: each step rents one, and a broken one is thrown away instead of returned.
/// </summary>
internal sealed class RunspacePool : IDisposable
{
    private readonly ConcurrentDictionary<SessionSettings, ConcurrentBag<RentedRunspace>> idle = new();
    private readonly int maxIdlePerSettings;
    private bool disposed;

    public RunspacePool(int maxIdlePerSettings) => this.maxIdlePerSettings = maxIdlePerSettings;

    /// <summary>Gets the pool every <see cref="PowerShellAction"/> of this process shares.</summary>
    public static RunspacePool Shared { get; } = new(Math.Max(16, Environment.ProcessorCount * 4));

    /// <summary>Rents an open runspace with these settings, opening one when none is idle.</summary>
    public async Task<RentedRunspace> RentAsync(SessionSettings settings, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (idle.TryGetValue(settings, out var bag) && bag.TryTake(out var warm))
        {
            return warm;
        }

        // Opening loads PowerShell (and the modules) synchronously: off the caller's thread.
        return await Task.Run(() => Open(settings), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Gives a runspace back: kept warm when it is still usable and the pool has room, else closed.</summary>
    public void Return(RentedRunspace rented)
    {
        ArgumentNullException.ThrowIfNull(rented);
        var bag = idle.GetOrAdd(rented.Settings, _ => []);
        if (!disposed && rented.Runspace.RunspaceStateInfo.State == RunspaceState.Opened && rented.Runspace.RunspaceAvailability == RunspaceAvailability.Available && bag.Count < maxIdlePerSettings)
        {
            bag.Add(rented);
            return;
        }

        rented.Runspace.Dispose();
    }

    /// <summary>Throws a runspace away (its pipeline could not be stopped, or it is in doubt).</summary>
    public static void Discard(RentedRunspace rented)
    {
        ArgumentNullException.ThrowIfNull(rented);
        rented.Runspace.Dispose();
    }

    public void Dispose()
    {
        disposed = true;
        foreach (var bag in idle.Values)
        {
            while (bag.TryTake(out var r))
            {
                r.Runspace.Dispose();
            }
        }
    }

    private static readonly string[] CoreModules = ["Microsoft.PowerShell.Utility", "Microsoft.PowerShell.Management"];

    private static readonly Lock OpenGate = new();

    private static RentedRunspace Open(SessionSettings settings)
    {
        var state = InitialSessionState.CreateDefault2();
        state.LanguageMode = settings.LanguageMode;
        if (settings.ExecutionPolicy is { } policy)
        {
            state.ExecutionPolicy = policy;
        }

        // PowerShell's own cmdlet modules are imported as the runspace opens, one runspace at a time, rather than
        // auto-loaded on a script's first use of them: auto-loading one module in several runspaces of a process at
        // once sometimes fails ("Start-Sleep was found in the module Microsoft.PowerShell.Utility, but the module
        // could not be loaded"; PowerShell/PowerShell#7377), which a full test run hit once.
        state.ImportPSModule(CoreModules);
        var modules = settings.ModulePaths.ToArray();
        if (modules.Length > 0)
        {
            state.ImportPSModule(modules);
        }

        state.ThrowOnRunspaceOpenError = true;
        var host = new ScriptHost();
        var runspace = RunspaceFactory.CreateRunspace(host, state);
        try
        {
            lock (OpenGate)
            {
                runspace.Open();
            }
        }
        catch (RunspaceOpenModuleLoadException ex)
        {
            runspace.Dispose();
            throw new StepException("ModuleLoad", $"powershell: cannot import the modules {string.Join(", ", modules.Select(m => $"'{m}'"))}: {ex.Message}", nonRetryable: true);
        }
        catch (Exception ex) when (ex is RuntimeException or PSInvalidOperationException)
        {
            runspace.Dispose();
            throw new StepException("RunspaceOpen", $"powershell: cannot open a runspace: {ex.Message}", nonRetryable: true);
        }

        return new RentedRunspace(runspace, host, settings);
    }
}
