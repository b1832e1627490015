using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Testing;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks.Tests.Compliance;

/// <summary>The built-in kernel on a real SQLite file, with a manual clock.</summary>
public sealed class KernelEngineHarness : IRunbookEngineHarness
{
    private readonly SqliteWorkflowStore store;
    private readonly ManualTimeProvider time;
    private readonly WorkflowWorker worker;

    private KernelEngineHarness(string directory, SqliteWorkflowStore store, ManualTimeProvider time)
    {
        RunbookDirectory = directory;
        this.store = store;
        this.time = time;
        var actions = ActionCatalog.CreateDefault();
        Service = new LocalRunbookService(store, actions, [directory], "sqlite:" + directory, time);
        worker = new WorkflowWorker(
            store,
            new RunbookResolver(actions),
            new WorkerOptions { WorkerId = "compliance" },
            new ActivityRegistry().AddRunbookActions(actions, NullLogger.Instance),
            time,
            NullLoggerFactory.Instance);
    }

    public string Engine => "kernel (SQLite)";

    public string RunbookDirectory { get; }

    public LocalRunbookService Service { get; }

    public static async Task<KernelEngineHarness> CreateAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "runbook-tests", "compliance-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var store = await SqliteWorkflowStore.OpenAsync(new SqliteStoreOptions { Path = Path.Combine(dir, ".runbook.db") });
        return new KernelEngineHarness(dir, store, new ManualTimeProvider());
    }

    public async Task DriveAsync() => await worker.RunUntilIdleAsync(CancellationToken.None);

    public async Task AdvanceAsync(TimeSpan by)
    {
        time.Advance(by);
        await DriveAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await worker.DisposeAsync();
        await store.DisposeAsync();
        try
        {
            Directory.Delete(RunbookDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean.
        }
    }
}
