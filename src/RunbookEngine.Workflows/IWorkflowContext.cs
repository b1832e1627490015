using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace RunbookEngine.Workflows;

/// <summary>
/// What workflow code may use, whichever engine runs it: the built-in kernel (SQLite, PostgreSQL) or Temporal.
/// Everything that touches the world is a durable step; time, randomness and ids are deterministic so that a
/// replay of the run takes the same path.
/// </summary>
/// <remarks>
/// Operations must be awaited one at a time. Each occupies the next position in the run's history, named by the
/// operation's <c>name</c>; on replay a recorded position returns its recorded outcome without running anything,
/// and a different name at a recorded position fails the run as non-deterministic. The runbook interpreter
/// depends on this interface only, never on an engine (as Temporal's <c>Workflow</c> statics sit over an
/// internal context in its SDK).
/// </remarks>
public interface IWorkflowContext
{
    /// <summary>Gets the run id.</summary>
    string RunId { get; }

    /// <summary>Gets the workflow name.</summary>
    string WorkflowName { get; }

    /// <summary>Gets the hash of the definition this run is pinned to.</summary>
    string DefinitionHash { get; }

    /// <summary>Gets who started the run (<c>user:alice</c>, <c>alert:alertmanager/DiskFull</c>).</summary>
    string StartedBy { get; }

    /// <summary>Gets the run's input.</summary>
    JsonNode? Input { get; }

    /// <summary>Gets the workflow's clock: the same on every replay.</summary>
    DateTimeOffset UtcNow { get; }

    /// <summary>Gets a random generator whose sequence is the same on every replay.</summary>
    Random Random { get; }

    /// <summary>Gets a logger that stays silent while recorded history is replayed.</summary>
    ILogger Logger { get; }

    /// <summary>Gets a value indicating whether the next operation will be answered from recorded history.</summary>
    bool IsReplaying { get; }

    /// <summary>Gets the token cancelled when cancellation of the run is requested.</summary>
    CancellationToken CancellationToken { get; }

    /// <summary>Returns a new id from the run's deterministic random sequence.</summary>
    /// <returns>A version-4 style GUID, the same on every replay.</returns>
    Guid NewGuid();

    /// <summary>
    /// Runs a named activity as a durable step: in this worker when <paramref name="queue"/> is null, else on a
    /// worker of that task queue while the run is suspended. One shape either way: a name and a JSON payload.
    /// </summary>
    /// <param name="name">The step name, recorded at this position.</param>
    /// <param name="activity">The activity type, registered with the workers (<see cref="ActivityRegistry"/>).</param>
    /// <param name="queue">The task queue, or null for this worker.</param>
    /// <param name="input">The activity's input.</param>
    /// <param name="options">Retry and timeouts; default <see cref="StepOptions.Default"/>.</param>
    /// <returns>The activity's output (recorded on first execution, replayed afterwards).</returns>
    /// <exception cref="StepFailedException">The activity failed for good.</exception>
    Task<JsonNode?> ActivityAsync(string name, string activity, string? queue, JsonNode? input = null, StepOptions? options = null);

    /// <summary>Runs code of the workflow's own as a durable, checkpointed step in this worker.</summary>
    /// <typeparam name="T">The result type; it is stored as JSON and must round-trip through it.</typeparam>
    /// <param name="name">The step name, recorded at this position.</param>
    /// <param name="body">The step code; it receives the attempt's idempotency key and cancellation token.</param>
    /// <param name="options">Retry and timeouts; default <see cref="StepOptions.Default"/>.</param>
    /// <returns>The step's result (recorded on first execution, replayed afterwards).</returns>
    /// <exception cref="StepFailedException">The step failed for good.</exception>
    Task<T> StepAsync<T>(string name, Func<IStepContext, Task<T>> body, StepOptions? options = null);

    /// <summary>
    /// Records a fact of the workflow's own in the run's timeline (e.g. <c>approval.granted</c>) at the next
    /// position, so that replay does not record it again.
    /// </summary>
    /// <param name="name">The position name.</param>
    /// <param name="kind">The event kind: dotted, and not one of the kernel's <see cref="Storage.TimelineKinds"/>.</param>
    /// <param name="data">The event data.</param>
    /// <returns>A task.</returns>
    Task RecordAsync(string name, string kind, JsonNode? data = null);

    /// <summary>A durable timer: the run is suspended and woken when it is due.</summary>
    /// <param name="duration">How long to wait.</param>
    /// <param name="name">The step name. Default <c>sleep</c>.</param>
    /// <returns>A task.</returns>
    Task DelayAsync(TimeSpan duration, string name = "sleep");

    /// <summary>
    /// Waits for a named signal. A signal sent before the wait is kept and delivered at once; the run holds no
    /// thread while it waits.
    /// </summary>
    /// <param name="signalName">The signal name.</param>
    /// <param name="timeout">How long to wait; null waits indefinitely.</param>
    /// <param name="name">The step name. Default <c>wait:{signalName}</c>.</param>
    /// <returns>The signal, or null when the timeout passed first.</returns>
    Task<ReceivedSignal?> WaitForSignalAsync(string signalName, TimeSpan? timeout = null, string? name = null);

    /// <summary>
    /// Runs workflow code that a cancellation of the run must not interrupt, such as the compensation of what the
    /// run changed: inside it <see cref="CancellationToken"/> is never cancelled, and its steps, timers and waits run
    /// even though cancellation was requested (Temporal's detached cancellation). When it returns, the run's
    /// cancellation applies again to what follows.
    /// </summary>
    /// <param name="body">The code.</param>
    /// <returns>When the code is done.</returns>
    Task UncancellableAsync(Func<Task> body);
}
