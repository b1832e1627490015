namespace RunbookEngine.Workflows.Storage;

/// <summary>The store providers, in the order they are asked whether a location is theirs; the last one registered as the fallback takes the rest.</summary>
public sealed class WorkflowStoreProviders
{
    private readonly List<IWorkflowStoreProvider> providers = [];
    private IWorkflowStoreProvider? fallback;

    /// <summary>Gets the providers, the fallback last.</summary>
    public IReadOnlyList<IWorkflowStoreProvider> All => [.. providers, .. fallback is null ? Array.Empty<IWorkflowStoreProvider>() : [fallback]];

    /// <summary>Registers a provider, asked before the fallback.</summary>
    /// <param name="provider">The provider.</param>
    /// <returns>This registry.</returns>
    public WorkflowStoreProviders Add(IWorkflowStoreProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        providers.Add(provider);
        return this;
    }

    /// <summary>Registers the provider of every location no other provider accepts (a file path: SQLite).</summary>
    /// <param name="provider">The provider.</param>
    /// <returns>This registry.</returns>
    public WorkflowStoreProviders Fallback(IWorkflowStoreProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        fallback = provider;
        return this;
    }

    /// <summary>The provider that opens a location.</summary>
    /// <param name="location">What the user wrote.</param>
    /// <returns>The provider.</returns>
    /// <exception cref="ArgumentException">No provider accepts it.</exception>
    public IWorkflowStoreProvider For(string location)
    {
        ArgumentNullException.ThrowIfNull(location);
        return providers.FirstOrDefault(p => p.Accepts(location))
            ?? (fallback is { } f && f.Accepts(location) ? f : null)
            ?? throw new ArgumentException($"no store provider takes '{location}': {string.Join("; ", All.Select(p => $"{p.Name}: {p.Describes}"))}");
    }
}
