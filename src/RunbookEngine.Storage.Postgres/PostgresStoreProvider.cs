using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres;

/// <summary>Opens a PostgreSQL store from a connection string (<c>Host=...;Database=...</c>) or a <c>postgres://</c> URL; <c>RUNBOOK_PG_SCHEMA</c> names the schema (default runbook).</summary>
public sealed class PostgresStoreProvider : IWorkflowStoreProvider
{
    /// <inheritdoc/>
    public string Name => "postgres";

    /// <inheritdoc/>
    public string Describes => "a connection string (Host=...;Database=...) or a postgres:// URL";

    /// <inheritdoc/>
    public bool Accepts(string location) => PostgresStoreOptions.IsPostgres(location);

    /// <inheritdoc/>
    public async Task<(IWorkflowStore Store, string Shown)> OpenAsync(StoreOpenRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var store = await PostgresWorkflowStore.OpenAsync(
            new PostgresStoreOptions
            {
                ConnectionString = PostgresStoreOptions.NormalizeConnectionString(request.Location),
                Schema = request.Environment("RUNBOOK_PG_SCHEMA") is { Length: > 0 } schema ? schema : "runbook",
                ReconnectWindow = request.ReconnectWindow,
            },
            cancellationToken).ConfigureAwait(false);
        return (store, "postgres " + store.Location);
    }
}
