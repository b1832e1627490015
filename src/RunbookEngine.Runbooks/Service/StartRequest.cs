using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A request to start a run.</summary>
public sealed record StartRequest
{
    /// <summary>Gets the runbook name (or, only in embedded mode, a file path).</summary>
    [JsonPropertyName("runbook")]
    public required string Runbook { get; init; }

    /// <summary>Gets the inputs as text, converted to their declared types.</summary>
    [JsonPropertyName("inputs")]
    public IReadOnlyDictionary<string, string> Inputs { get; init; } = new Dictionary<string, string>();

    /// <summary>Gets a value indicating whether only plans are made.</summary>
    [JsonPropertyName("dry_run")]
    public bool DryRun { get; init; }

    /// <summary>Gets a key that makes starting idempotent.</summary>
    [JsonPropertyName("idempotency_key")]
    public string? IdempotencyKey { get; init; }

    /// <summary>Gets the game-day drill the run belongs to, or null for a real run.</summary>
    [JsonPropertyName("drill")]
    public string? Drill { get; init; }
}
