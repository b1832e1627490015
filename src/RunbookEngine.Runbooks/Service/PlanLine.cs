using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>One line of a dry-run's plan.</summary>
/// <param name="Step">The step id.</param>
/// <param name="Plan">What it would do.</param>
public sealed record PlanLine([property: JsonPropertyName("step")] string Step, [property: JsonPropertyName("plan")] string Plan);
