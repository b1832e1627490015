using System.Text.Json.Nodes;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Workflows;

/// <summary>
/// The client side of an engine: what the CLI, the server and the alert router do with runs, whichever engine
/// runs them. The kernel's is <see cref="WorkflowClient"/> over a store; nothing on the client side reads a store.
/// </summary>
/// <remarks>
/// Retrying a run from a step is a new run whose input carries what the old run recorded: it is built by the
/// caller from <see cref="GetHistoryAsync"/> and <see cref="GetDefinitionAsync"/> and started with
/// <see cref="StartAsync"/>, so it is the same on every engine.
/// </remarks>
public interface IRunClient
{
    /// <summary>Gets the current time of this client's clock.</summary>
    DateTimeOffset Now { get; }

    /// <summary>Starts a run of a definition, or returns the run already started with the same id or idempotency key.</summary>
    /// <param name="definition">The definition to pin.</param>
    /// <param name="options">Start options.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The run and whether this call created it.</returns>
    Task<StartRunResult> StartAsync(WorkflowDefinition definition, StartRunOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Sends a signal (an approval decision, say); it is kept until the run waits for it.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="signalName">The signal name.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="sender">Who sends it.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>What happened.</returns>
    Task<SignalOutcome> SignalAsync(string runId, string signalName, JsonNode? payload, string sender, CancellationToken cancellationToken = default);

    /// <summary>Requests cancellation of a run.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="actor">Who asks.</param>
    /// <param name="reason">Why.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>What happened.</returns>
    Task<CancelOutcome> CancelAsync(string runId, string actor, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Reads a run.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The run or null.</returns>
    Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>Lists runs, newest first.</summary>
    /// <param name="query">The filter.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The runs.</returns>
    Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunQuery? query = null, CancellationToken cancellationToken = default);

    /// <summary>Reads a run's recorded steps and the signals it has not consumed yet.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The history.</returns>
    Task<RunHistory> GetHistoryAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>Reads a run's timeline in order.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="afterSequence">Only events after this sequence number.</param>
    /// <param name="limit">The most events.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The events.</returns>
    Task<IReadOnlyList<TimelineEvent>> GetTimelineAsync(string runId, long afterSequence = 0, int limit = 10_000, CancellationToken cancellationToken = default);

    /// <summary>Appends an event from outside the run to its timeline (an alert that repeated or resolved).</summary>
    /// <param name="runId">The run.</param>
    /// <param name="timelineEvent">The event.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    Task AnnotateAsync(string runId, NewTimelineEvent timelineEvent, CancellationToken cancellationToken = default);

    /// <summary>Reads a pinned definition by its hash.</summary>
    /// <param name="hash">The hash.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The definition, or null.</returns>
    Task<WorkflowDefinition?> GetDefinitionAsync(string hash, CancellationToken cancellationToken = default);
}
