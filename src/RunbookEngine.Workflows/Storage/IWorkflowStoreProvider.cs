namespace RunbookEngine.Workflows.Storage;

/// <summary>
/// A kind of store the engine can open from what a user writes in <c>--store</c> (or <c>RUNBOOK_STORE</c>): each
/// storage assembly has one, and <see cref="WorkflowStoreProviders"/> is where they are registered.
/// </summary>
public interface IWorkflowStoreProvider
{
    /// <summary>Gets the provider's name, as shown in messages (<c>sqlite</c>, <c>postgres</c>).</summary>
    string Name { get; }

    /// <summary>Gets what a location of this kind looks like, for help texts.</summary>
    string Describes { get; }

    /// <summary>Whether a location names a store of this kind.</summary>
    /// <param name="location">What the user wrote.</param>
    /// <returns>True when this provider opens it.</returns>
    bool Accepts(string location);

    /// <summary>Opens (and migrates) the store.</summary>
    /// <param name="request">Where and how.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The store and how to show it to people (a file path, a host and database; never a password).</returns>
    /// <exception cref="ArgumentException">The location cannot be read; the message says why.</exception>
    Task<(IWorkflowStore Store, string Shown)> OpenAsync(StoreOpenRequest request, CancellationToken cancellationToken);
}
