using System.Text.Json.Nodes;

namespace RunbookEngine.Workflows;

/// <summary>How to start a run.</summary>
public sealed record StartRunOptions
{
    /// <summary>Gets the run id to use; default a new time-ordered id.</summary>
    public string? RunId { get; init; }

    /// <summary>Gets a key that makes the start idempotent: starting with a key already used returns that run.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>Gets the input.</summary>
    public JsonNode? Input { get; init; }

    /// <summary>Gets the task queue for the workflow code. Default <c>default</c>.</summary>
    public string Queue { get; init; } = "default";

    /// <summary>Gets who starts it (<c>user:alice</c>, <c>alert:...</c>). Default <c>system</c>.</summary>
    public string Actor { get; init; } = "system";

    /// <summary>Gets extra data for the <c>run.created</c> timeline event, as a JSON object.</summary>
    public JsonObject? CreatedEventData { get; init; }

    /// <summary>
    /// Gets the W3C <c>traceparent</c> of the trace the run belongs to: every worker that executes it, now or after
    /// a crash, continues that trace. Default the current activity's (e.g. the alert webhook request that started
    /// it), else a new trace.
    /// </summary>
    public string? TraceParent { get; init; }

    /// <summary>Gets the admission guard decided when the run is stored; a refused run is stored as <see cref="RunStatus.Blocked"/>.</summary>
    public Storage.RunGuard? Guard { get; init; }
}
