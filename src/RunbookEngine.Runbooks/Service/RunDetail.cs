using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A run with its steps, what it waits for and, for a dry-run, its plan.</summary>
/// <param name="Run">The run.</param>
/// <param name="Steps">Its steps.</param>
/// <param name="WaitingFor">What it waits for, readable.</param>
/// <param name="Plan">The plan of a dry-run, else empty.</param>
public sealed record RunDetail(
    [property: JsonPropertyName("run")] RunView Run,
    [property: JsonPropertyName("steps")] IReadOnlyList<StepView> Steps,
    [property: JsonPropertyName("waiting_for")] string? WaitingFor,
    [property: JsonPropertyName("plan")] IReadOnlyList<PlanLine> Plan);
