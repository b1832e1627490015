using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>The outcome of an approve or reject.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Step">The approval step.</param>
/// <param name="Decision">approve or reject.</param>
/// <param name="By">Who decided.</param>
/// <param name="Accepted">Whether the decision counts (the workflow records refused ones too).</param>
/// <param name="Reason">Why it was refused.</param>
public sealed record DecisionResult(
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("step")] string Step,
    [property: JsonPropertyName("decision")] string Decision,
    [property: JsonPropertyName("by")] string By,
    [property: JsonPropertyName("accepted")] bool Accepted,
    [property: JsonPropertyName("reason")] string? Reason);
