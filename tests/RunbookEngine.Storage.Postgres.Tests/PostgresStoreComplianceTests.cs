using RunbookEngine.Testing;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres.Tests;

/// <summary>The kernel's compliance suite, unchanged, against a real PostgreSQL; each test in its own schema.</summary>
public sealed class PostgresStoreComplianceTests : WorkflowStoreCompliance
{
    private readonly string schema = "t_" + Guid.NewGuid().ToString("N")[..16];

    protected override bool ClaimsCarryHistory => true;

    protected override async Task<IWorkflowStore> OpenStoreAsync()
    {
        var cluster = await PostgresCluster.SharedAsync();
        return await PostgresWorkflowStore.OpenAsync(new PostgresStoreOptions { ConnectionString = cluster.ConnectionString, Schema = schema });
    }
}
