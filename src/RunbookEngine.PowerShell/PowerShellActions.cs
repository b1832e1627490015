using RunbookEngine.Actions;

namespace RunbookEngine.PowerShell;

/// <summary>Adds the <c>powershell</c> action to a catalog (it lives in its own assembly: the PowerShell SDK is large).</summary>
public static class PowerShellActions
{
    /// <summary>Adds the <c>powershell</c> action, on the process's shared warm runspaces.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <returns>The catalog.</returns>
    public static ActionCatalog AddPowerShell(this ActionCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return catalog.Add(new PowerShellAction());
    }
}
