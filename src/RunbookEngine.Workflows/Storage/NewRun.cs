namespace RunbookEngine.Workflows.Storage;

/// <summary>A run to create.</summary>
/// <param name="RunId">The run id.</param>
/// <param name="Definition">The definition to pin (stored by hash if new).</param>
/// <param name="Queue">The task queue for the workflow code.</param>
/// <param name="Input">The input as JSON text.</param>
/// <param name="IdempotencyKey">If set, a second start with the same key returns the first run.</param>
/// <param name="Actor">Who starts it.</param>
/// <param name="Now">The current time.</param>
/// <param name="CreatedEventData">The data of the <c>run.created</c> timeline event (JSON object text), stored as given.</param>
/// <param name="Guard">Admission control decided in the same transaction, if any.</param>
/// <param name="TraceParent">The W3C traceparent of the run's trace, if any.</param>
public sealed record NewRun(
    string RunId,
    WorkflowDefinition Definition,
    string Queue,
    string? Input,
    string? IdempotencyKey,
    string Actor,
    DateTimeOffset Now,
    string? CreatedEventData = null,
    RunGuard? Guard = null,
    string? TraceParent = null);
