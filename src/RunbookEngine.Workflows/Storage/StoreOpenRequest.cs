namespace RunbookEngine.Workflows.Storage;

/// <summary>What a store provider opens: the location the user wrote, and the settings every provider may read.</summary>
/// <param name="Location">The <c>--store</c> value.</param>
/// <param name="Environment">Reads an environment variable (a provider's own settings, e.g. <c>RUNBOOK_PG_SCHEMA</c>).</param>
/// <param name="ReconnectWindow">How long a networked store may be unreachable before operations fail.</param>
public sealed record StoreOpenRequest(string Location, Func<string, string?> Environment, TimeSpan ReconnectWindow);
