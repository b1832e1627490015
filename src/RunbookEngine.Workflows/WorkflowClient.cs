using System.Text.Json.Nodes;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Workflows;

/// <summary>Starts, signals, cancels and reads runs.</summary>
public sealed class WorkflowClient
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

    /// <summary>Gets the current time of this client's clock.</summary>
    public DateTimeOffset Now => time.GetUtcNow();

    /// <summary>Gets or sets a callback invoked when this client made work available (to wake an in-process worker).</summary>
    public Action? WorkAvailable { get; set; }

    /// <summary>Starts a run of a definition, or returns the run already started with the same id or idempotency key.</summary>
    /// <param name="definition">The definition to pin.</param>
    /// <param name="options">Start options.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The run and whether this call created it.</returns>
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

        var result = await store.StartRunAsync(
            new NewRun(runId, definition, options.Queue, options.Input?.ToJsonString(WorkflowJson.Options), options.IdempotencyKey, options.Actor, now, created.ToJsonString(WorkflowJson.Options), options.Guard),
            cancellationToken).ConfigureAwait(false);
        if (result.Created && !result.Run.Status.IsTerminal())
        {
            WorkAvailable?.Invoke();
        }

        return result;
    }

    /// <summary>Sends a signal; it is kept until the run waits for it.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="signalName">The signal name.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="sender">Who sends it.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>What happened.</returns>
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

    /// <summary>Requests cancellation of a run.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="actor">Who asks.</param>
    /// <param name="reason">Why.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>What happened.</returns>
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

    /// <summary>Reads a run.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The run or null.</returns>
    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default) => store.GetRunAsync(runId, cancellationToken);

    /// <summary>Lists runs, newest first.</summary>
    /// <param name="query">The filter.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The runs.</returns>
    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunQuery? query = null, CancellationToken cancellationToken = default) =>
        store.ListRunsAsync(query ?? new RunQuery(), cancellationToken);

    /// <summary>Reads a run's timeline in order.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="afterSequence">Only events after this sequence number.</param>
    /// <param name="limit">The most events.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The events.</returns>
    public Task<IReadOnlyList<TimelineEvent>> GetTimelineAsync(string runId, long afterSequence = 0, int limit = 10_000, CancellationToken cancellationToken = default) =>
        store.GetTimelineAsync(runId, afterSequence, limit, cancellationToken);

    private static string NewRunId(DateTimeOffset now) => "run_" + Guid.CreateVersion7(now).ToString("N");
}
