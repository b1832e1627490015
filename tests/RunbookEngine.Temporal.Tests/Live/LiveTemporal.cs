using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Storage.Sqlite;
using Temporalio.Api.Enums.V1;
using Temporalio.Api.OperatorService.V1;
using Temporalio.Client;
using Temporalio.Exceptions;
using Temporalio.Testing;

namespace RunbookEngine.Temporal.Tests.Live;

/// <summary>
/// Whether a live Temporal server can be used here: <c>TEMPORAL_ADDRESS</c> names one, or a <c>temporal</c>
/// binary on PATH can start a dev server (the SDK's <c>DevServerOptions.ExistingPath</c>; nothing is downloaded).
/// Otherwise every live test reports itself skipped with this reason; none is ever counted as passed.
/// </summary>
internal static class LiveTemporal
{
    public static string? Address { get; } = Environment.GetEnvironmentVariable("TEMPORAL_ADDRESS") is { Length: > 0 } a ? a : null;

    public static string? Binary { get; } = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(d => Path.Combine(d, "temporal"))
        .FirstOrDefault(File.Exists);

    public static string? Unavailable { get; } = Address is null && Binary is null
        ? "no live Temporal server: TEMPORAL_ADDRESS is not set and no `temporal` binary is on PATH (none can be installed on this machine); the replay and ActivityEnvironment tests cover the workflow and activities"
        : null;
}

/// <summary>A test against a live Temporal server, skipped with the reason when there is none.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class LiveTemporalFactAttribute : FactAttribute
{
    public LiveTemporalFactAttribute()
    {
        if (LiveTemporal.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>
/// A live server (the one at TEMPORAL_ADDRESS, or a dev server started from the `temporal` binary), a runbook
/// worker in this process on a task queue of its own, and the service the CLI and the server use over it.
/// </summary>
public sealed class LiveTemporalFixture : IAsyncLifetime
{
    private readonly CancellationTokenSource stop = new();
    private WorkflowEnvironment? environment;
    private SqliteWorkflowStore? store;
    private Task worker = Task.CompletedTask;

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "runbook-tests", "live-temporal-" + Guid.NewGuid().ToString("N"));

    public ITemporalClient Client => environment!.Client;

    public TemporalEngineOptions Options { get; private set; } = new();

    public LocalRunbookService Service { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (LiveTemporal.Unavailable is not null)
        {
            return;
        }

        System.IO.Directory.CreateDirectory(Directory);
        Options = new TemporalEngineOptions { Address = LiveTemporal.Address, TaskQueue = "runbooks-live-" + Guid.NewGuid().ToString("N")[..8] };
        if (LiveTemporal.Address is not null)
        {
            var (client, resolved) = await TemporalConnector.ConnectAsync(Options);
            Options = resolved;
            environment = new WorkflowEnvironment(client);
            await AddSearchAttributesAsync(client, resolved.Namespace!);
        }
        else
        {
            environment = await WorkflowEnvironment.StartLocalAsync(new WorkflowEnvironmentStartLocalOptions
            {
                DevServerOptions = new DevServerOptions { ExistingPath = LiveTemporal.Binary },
                SearchAttributes = [.. TemporalRunClient.SearchAttributes],
            });
            Options = Options with { Address = environment.Client.Connection.Options.TargetHost, Namespace = environment.Client.Options.Namespace };
        }

        store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = Path.Combine(Directory, "guards.db") });
        var actions = ActionCatalog.CreateDefault();
        Service = new LocalRunbookService(new TemporalRunClient(Client, Options, guards: store), store, store, store, actions, [Directory], "temporal " + Options.Address);
        worker = TemporalRunbookWorker.RunAsync(Client, actions, new TemporalRunbookWorker.WorkerSettings { WorkflowTaskQueue = Options.TaskQueue, ShutdownTimeout = TimeSpan.FromSeconds(5) }, NullLoggerFactory.Instance, stop.Token);
    }

    public string Write(string name, string yaml)
    {
        var path = Path.Combine(Directory, name + ".yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    public async Task DisposeAsync()
    {
        await stop.CancelAsync();
        await worker;
        if (store is not null)
        {
            await store.DisposeAsync();
        }

        if (environment is not null)
        {
            await environment.DisposeAsync();
        }

        stop.Dispose();
    }

    private static async Task AddSearchAttributesAsync(ITemporalClient client, string ns)
    {
        var request = new AddSearchAttributesRequest { Namespace = ns };
        foreach (var key in TemporalRunClient.SearchAttributes)
        {
            request.SearchAttributes[key.Name] = IndexedValueType.Keyword;
        }

        try
        {
            await client.OperatorService.AddSearchAttributesAsync(request);
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.AlreadyExists)
        {
            // Added by an earlier run.
        }
    }
}
