namespace RunbookEngine.Workflows;

/// <summary>A run that ended on another engine, as <see cref="EngineTelemetry.RunEnded"/> records it.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Workflow">The runbook.</param>
/// <param name="Queue">Its task queue.</param>
/// <param name="TraceParent">The run's traceparent.</param>
/// <param name="Status"><c>completed</c>, <c>failed</c>, <c>cancelled</c> or <c>blocked</c>.</param>
/// <param name="ErrorKind">The error kind of a failed or blocked run.</param>
/// <param name="Error">Its message.</param>
public sealed record EndedRun(string RunId, string Workflow, string? Queue, string? TraceParent, string Status, string? ErrorKind = null, string? Error = null);
