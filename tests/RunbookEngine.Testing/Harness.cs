using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Testing;

/// <summary>A store, a registry, a manual clock and a client, for one test.</summary>
public sealed class Harness(IWorkflowStore store, ManualTimeProvider time)
{
    public IWorkflowStore Store { get; } = store;

    public ManualTimeProvider Time { get; } = time;

    public WorkflowRegistry Registry { get; } = new();

    public WorkflowClient Client { get; } = new(store, time);

    public WorkflowWorker Worker(string id = "w1", WorkerOptions? options = null, ActivityRegistry? activities = null, IWorkflowStore? store = null) =>
        new(store ?? Store, Registry, (options ?? new WorkerOptions()) with { WorkerId = id }, activities, Time, NullLoggerFactory.Instance);

    public async Task<RunRecord> RunAsync(string runId)
    {
        var run = await Store.GetRunAsync(runId, CancellationToken.None);
        Assert.NotNull(run);
        return run!;
    }

    public async Task<IReadOnlyList<TimelineEvent>> TimelineAsync(string runId) =>
        await Store.GetTimelineAsync(runId, 0, 100_000, CancellationToken.None);

    public async Task<List<string>> KindsAsync(string runId) =>
        (await TimelineAsync(runId)).Select(e => e.Kind).ToList();
}
