using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite;

/// <summary>Opens a SQLite file: the embedded default, and the fallback for any location that is a path.</summary>
public sealed class SqliteStoreProvider : IWorkflowStoreProvider
{
    /// <inheritdoc/>
    public string Name => "sqlite";

    /// <inheritdoc/>
    public string Describes => $"a file path (default {SqliteStoreOptions.DefaultPath})";

    /// <inheritdoc/>
    public bool Accepts(string location) => !string.IsNullOrWhiteSpace(location);

    /// <inheritdoc/>
    public async Task<(IWorkflowStore Store, string Shown)> OpenAsync(StoreOpenRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = request.Location }, cancellationToken).ConfigureAwait(false);
        return (store, store.DatabasePath);
    }
}
