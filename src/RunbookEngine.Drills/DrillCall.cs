using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RunbookEngine.Drills;

/// <summary>One call the run made of an action during a drill, and how the drill answered it.</summary>
/// <param name="Step">The runbook step.</param>
/// <param name="Role">action, verify, compensate or plan.</param>
/// <param name="Action">The action.</param>
/// <param name="Attempt">The attempt number.</param>
/// <param name="At">When, from the drill's start.</param>
/// <param name="With">The inputs the step gave (secret references unresolved).</param>
/// <param name="SideEffect">What the call may change: read-only, mutating or destructive.</param>
/// <param name="Answer">How the drill answered, or null when it gave no answer.</param>
public sealed record DrillCall(
    [property: JsonPropertyName("step")] string Step,
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("attempt")] int Attempt,
    [property: JsonPropertyName("at")] TimeSpan At,
    [property: JsonPropertyName("with")] JsonObject With,
    [property: JsonPropertyName("side_effect")] string SideEffect,
    [property: JsonPropertyName("answer")] string? Answer);
