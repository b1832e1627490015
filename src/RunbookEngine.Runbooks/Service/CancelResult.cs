using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>The outcome of a cancel request.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Outcome">Requested, AlreadyRequested, RunFinished or NotFound.</param>
/// <param name="Status">The run's status when asked.</param>
public sealed record CancelResult(
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("status")] string Status);
