using RunbookEngine.Testing;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Sqlite.Tests;

public sealed class SqliteStoreComplianceTests : WorkflowStoreCompliance, IDisposable
{
    private readonly TempDatabase db = new();

    protected override async Task<IWorkflowStore> OpenStoreAsync() =>
        await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = db.Path });

    public void Dispose() => db.Dispose();
}
