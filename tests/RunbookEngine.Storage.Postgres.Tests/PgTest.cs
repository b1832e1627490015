using System.Diagnostics;
using Npgsql;
using RunbookEngine.Testing;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Storage.Postgres.Tests;

/// <summary>A fresh schema on a test cluster, stores over it, and direct SQL for assertions.</summary>
public sealed class PgTest : IAsyncDisposable
{
    private readonly List<PostgresWorkflowStore> stores = [];

    private PgTest(PostgresCluster cluster, string schema)
    {
        Cluster = cluster;
        Schema = schema;
        Sql = new NpgsqlDataSourceBuilder(cluster.ConnectionString + $";Search Path={schema}").Build();
    }

    public PostgresCluster Cluster { get; }

    public string Schema { get; }

    public NpgsqlDataSource Sql { get; }

    public string ConnectionString => Cluster.ConnectionString;

    public static async Task<PgTest> CreateAsync(PostgresCluster? cluster = null) =>
        new(cluster ?? await PostgresCluster.SharedAsync(), "t_" + Guid.NewGuid().ToString("N")[..16]);

    public PostgresStoreOptions Options(Func<PostgresStoreOptions, PostgresStoreOptions>? change = null)
    {
        var o = new PostgresStoreOptions { ConnectionString = Cluster.ConnectionString, Schema = Schema };
        return change is null ? o : change(o);
    }

    public async Task<PostgresWorkflowStore> OpenAsync(Func<PostgresStoreOptions, PostgresStoreOptions>? change = null)
    {
        var s = await PostgresWorkflowStore.OpenAsync(Options(change));
        lock (stores)
        {
            stores.Add(s);
        }

        return s;
    }

    public async Task<T> ScalarAsync<T>(string sql, params NpgsqlParameter[] parameters)
    {
        await using var cmd = Sql.CreateCommand(sql);
        cmd.Parameters.AddRange(parameters);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>Waits, woken by the store's run-ended notifications (no polling clock), until every run has ended.</summary>
    public async Task WaitForEndedAsync(PostgresWorkflowStore observer, IReadOnlyCollection<string> runIds, TimeSpan limit)
    {
        using var signal = new SemaphoreSlim(0);
        using var subscription = observer.SubscribeRunEnded(_ => signal.Release());
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var open = await ScalarAsync<long>(
                "SELECT count(*) FROM runs WHERE run_id = ANY(@ids) AND status NOT IN ('completed', 'failed', 'cancelled')",
                new NpgsqlParameter("ids", runIds.ToArray()));
            if (open == 0)
            {
                return;
            }

            var left = limit - watch.Elapsed;
            if (left <= TimeSpan.Zero || !await signal.WaitAsync(left))
            {
                throw new TimeoutException($"{open} of {runIds.Count} runs had not ended after {limit}.");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var s in stores)
        {
            await s.DisposeAsync();
        }

        await Sql.DisposeAsync();
    }
}
