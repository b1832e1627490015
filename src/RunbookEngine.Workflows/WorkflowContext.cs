using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RunbookEngine.Workflows.Execution;

namespace RunbookEngine.Workflows;

/// <summary>
/// What workflow code may use. Everything that touches the world is a durable step; time, randomness and
/// ids are deterministic so that a replay of the run takes the same path.
/// </summary>
/// <remarks>
/// Operations must be awaited one at a time. Each occupies the next position in the run's history; on replay,
/// a recorded position returns its recorded outcome without running anything, and a different step name at a
/// recorded position fails the run with a <see cref="NonDeterminismException"/>.
/// </remarks>
public sealed class WorkflowContext
{
    private readonly RunExecution execution;
    private readonly ILogger logger;

    internal WorkflowContext(RunExecution execution)
    {
        this.execution = execution;
        Input = WorkflowJson.Parse(execution.Run.Input);
        logger = new ReplaySafeLogger(execution.Logger, () => execution.IsReplaying);
    }

    /// <summary>Gets the run id.</summary>
    public string RunId => execution.Run.RunId;

    /// <summary>Gets the workflow name.</summary>
    public string WorkflowName => execution.Run.WorkflowName;

    /// <summary>Gets the hash of the definition this run is pinned to.</summary>
    public string DefinitionHash => execution.Run.DefinitionHash;

    /// <summary>Gets who started the run.</summary>
    public string StartedBy => execution.Run.CreatedBy;

    /// <summary>Gets the run's input.</summary>
    public JsonNode? Input { get; }

    /// <summary>
    /// Gets the workflow's clock: the run's creation time, then the time of the latest step, timer or signal
    /// outcome reached. The same on every replay.
    /// </summary>
    public DateTimeOffset UtcNow => execution.WorkflowTime;

    /// <summary>Gets a random generator seeded from the run id: the same sequence on every replay.</summary>
    public Random Random => execution.Random;

    /// <summary>Gets a logger that stays silent while recorded history is replayed.</summary>
    public ILogger Logger => logger;

    /// <summary>Gets a value indicating whether the next operation will be answered from recorded history.</summary>
    public bool IsReplaying => execution.IsReplaying;

    /// <summary>Gets the token cancelled when cancellation of the run is requested.</summary>
    public CancellationToken CancellationToken => execution.CancellationToken;

    /// <summary>Deserializes the input.</summary>
    /// <typeparam name="T">The input type.</typeparam>
    /// <returns>The input, or default when there is none.</returns>
    public T? GetInput<T>() => Input is null ? default : Input.Deserialize<T>(WorkflowJson.Options);

    /// <summary>Returns a new id from the run's deterministic random sequence.</summary>
    /// <returns>A version-4 style GUID, the same on every replay.</returns>
    public Guid NewGuid() => execution.NewGuid();

    /// <summary>Runs code as a durable, checkpointed step in this worker.</summary>
    /// <typeparam name="T">The result type; it is stored as JSON and must round-trip through it.</typeparam>
    /// <param name="name">The step name, recorded at this position.</param>
    /// <param name="body">The step code; it receives the attempt's idempotency key and cancellation token.</param>
    /// <param name="options">Retry and timeouts; default <see cref="StepOptions.Default"/>.</param>
    /// <returns>The step's result (recorded on first execution, replayed afterwards).</returns>
    /// <exception cref="StepFailedException">The step failed for good.</exception>
    public Task<T> StepAsync<T>(string name, Func<StepContext, Task<T>> body, StepOptions? options = null) =>
        execution.StepAsync(name, body, options);

    /// <summary>Runs code that returns nothing as a durable step.</summary>
    /// <param name="name">The step name.</param>
    /// <param name="body">The step code.</param>
    /// <param name="options">Retry and timeouts.</param>
    /// <returns>A task.</returns>
    public Task StepAsync(string name, Func<StepContext, Task> body, StepOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        return execution.StepAsync<bool>(
            name,
            async sc =>
            {
                await body(sc).ConfigureAwait(false);
                return true;
            },
            options);
    }

    /// <summary>
    /// Schedules a named activity on a task queue and suspends the run until a worker of that queue has
    /// executed it (with the options' retry policy).
    /// </summary>
    /// <param name="name">The step name.</param>
    /// <param name="activity">The activity type registered with the queue's workers.</param>
    /// <param name="queue">The task queue.</param>
    /// <param name="input">The activity's input.</param>
    /// <param name="options">Retry and timeouts.</param>
    /// <returns>The activity's output.</returns>
    /// <exception cref="StepFailedException">The activity failed for good.</exception>
    public Task<JsonNode?> ActivityAsync(string name, string activity, string queue, JsonNode? input = null, StepOptions? options = null) =>
        execution.ActivityAsync(name, activity, queue, input, options);

    /// <summary>
    /// Records a fact of the workflow's own in the run's timeline (e.g. <c>approval.granted</c>), at the next
    /// position, so that replay does not record it again.
    /// </summary>
    /// <param name="name">The position name.</param>
    /// <param name="kind">The event kind: dotted, and not one of the kernel's <see cref="Storage.TimelineKinds"/>.</param>
    /// <param name="data">The event data.</param>
    /// <returns>A task.</returns>
    public Task RecordAsync(string name, string kind, JsonNode? data = null) =>
        execution.RecordAsync(name, kind, data?.ToJsonString(WorkflowJson.Options));

    /// <summary>A durable timer: the run is suspended in the store and woken when it is due.</summary>
    /// <param name="duration">How long to wait.</param>
    /// <param name="name">The step name. Default <c>sleep</c>.</param>
    /// <returns>A task.</returns>
    public Task DelayAsync(TimeSpan duration, string name = "sleep") => execution.DelayAsync(duration, name);

    /// <summary>
    /// Waits for a named signal. A signal sent before the wait is kept and delivered at once; the run holds no
    /// thread while it waits.
    /// </summary>
    /// <param name="signalName">The signal name.</param>
    /// <param name="timeout">How long to wait; null waits indefinitely.</param>
    /// <param name="name">The step name. Default <c>wait:{signalName}</c>.</param>
    /// <returns>The signal, or null when the timeout passed first.</returns>
    public Task<ReceivedSignal?> WaitForSignalAsync(string signalName, TimeSpan? timeout = null, string? name = null) =>
        execution.WaitForSignalAsync(signalName, timeout, name ?? "wait:" + signalName);
}
