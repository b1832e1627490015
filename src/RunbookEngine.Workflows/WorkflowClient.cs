using System.Text.Json.Nodes;
using RunbookEngine.Workflows.Execution;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Workflows;

/// <summary>The kernel's <see cref="IRunClient"/>: starts, signals, cancels and reads runs in a store.</summary>
public sealed class WorkflowClient : IRunClient
{
    private readonly IWorkflowStore store;
    private readonly TimeProvider time;

    /// <summary>Initializes a new instance of the <see cref="WorkflowClient"/> class.</summary>
    /// <param name="store">The store.</param>
    /// <param name="timeProvider">The clock. Default <see cref="TimeProvider.System"/>.</param>
    public WorkflowClient(IWorkflowStore store, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        this.store = store;
        time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc/>
    public DateTimeOffset Now => time.GetUtcNow();

    /// <summary>Gets or sets a callback invoked when this client made work available (to wake an in-process worker).</summary>
    public Action? WorkAvailable { get; set; }

    /// <inheritdoc/>
    public async Task<StartRunResult> StartAsync(WorkflowDefinition definition, StartRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        options ??= new StartRunOptions();
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Queue);
        var now = time.GetUtcNow();
        var runId = options.RunId ?? NewRunId(now);
        var created = JsonNode.Parse(TimelineData.Of(("workflow", definition.Name), ("definition_hash", definition.Hash), ("queue", options.Queue), ("idempotency_key", options.IdempotencyKey)))!.AsObject();
        foreach (var (key, value) in options.CreatedEventData ?? [])
        {
            created[key] = value?.DeepClone();
        }

        var traceParent = options.TraceParent ?? Telemetry.TraceParentForStart(definition.Name, runId);
        var result = await store.StartRunAsync(
            new NewRun(runId, definition, options.Queue, options.Input?.ToJsonString(WorkflowJson.Options), options.IdempotencyKey, options.Actor, now, created.ToJsonString(WorkflowJson.Options), options.Guard, traceParent),
            cancellationToken).ConfigureAwait(false);
        if (result.Created)
        {
            EngineTelemetry.RunStarted(definition.Name, options.Guard is { Enforce: true } guard ? guard.Key : null, result.Run.Status == RunStatus.Blocked);
        }

        if (result.Created && !result.Run.Status.IsTerminal())
        {
            WorkAvailable?.Invoke();
        }

        return result;
    }

    /// <inheritdoc/>
    public async Task<SignalOutcome> SignalAsync(string runId, string signalName, JsonNode? payload, string sender, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        ArgumentException.ThrowIfNullOrWhiteSpace(signalName);
        ArgumentException.ThrowIfNullOrWhiteSpace(sender);
        var outcome = await store.SignalAsync(runId, new NewSignal(signalName, payload?.ToJsonString(WorkflowJson.Options), sender, time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
        if (outcome == SignalOutcome.Delivered)
        {
            WorkAvailable?.Invoke();
        }

        return outcome;
    }

    /// <inheritdoc/>
    public async Task<CancelOutcome> CancelAsync(string runId, string actor, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        ArgumentException.ThrowIfNullOrWhiteSpace(actor);
        var outcome = await store.RequestCancelAsync(runId, actor, reason, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (outcome == CancelOutcome.Requested)
        {
            WorkAvailable?.Invoke();
        }

        return outcome;
    }

    /// <inheritdoc/>
    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default) => store.GetRunAsync(runId, cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunQuery? query = null, CancellationToken cancellationToken = default) =>
        store.ListRunsAsync(query ?? new RunQuery(), cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<TimelineEvent>> GetTimelineAsync(string runId, long afterSequence = 0, int limit = 10_000, CancellationToken cancellationToken = default) =>
        store.GetTimelineAsync(runId, afterSequence, limit, cancellationToken);

    /// <inheritdoc/>
    public Task<RunHistory> GetHistoryAsync(string runId, CancellationToken cancellationToken = default) => store.LoadHistoryAsync(runId, cancellationToken);

    /// <inheritdoc/>
    public Task AnnotateAsync(string runId, NewTimelineEvent timelineEvent, CancellationToken cancellationToken = default) =>
        store.AppendTimelineAsync(runId, timelineEvent, cancellationToken);

    /// <inheritdoc/>
    public Task<WorkflowDefinition?> GetDefinitionAsync(string hash, CancellationToken cancellationToken = default) => store.GetDefinitionAsync(hash, cancellationToken);

    private static string NewRunId(DateTimeOffset now) => "run_" + Guid.CreateVersion7(now).ToString("N");
}
