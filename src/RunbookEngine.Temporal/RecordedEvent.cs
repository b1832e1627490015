using System.Text.Json.Nodes;

namespace RunbookEngine.Temporal;

/// <summary>A timeline event a runbook workflow recorded (approval decisions, skips, routing), in the order recorded.</summary>
/// <param name="Sequence">The operation's position in the run.</param>
/// <param name="Name">The position name.</param>
/// <param name="At">Workflow time when it was recorded.</param>
/// <param name="Kind">The event kind, e.g. <c>approval.granted</c>.</param>
/// <param name="Data">Its data.</param>
public sealed record RecordedEvent(int Sequence, string Name, DateTimeOffset At, string Kind, JsonNode? Data);
