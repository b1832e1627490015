using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A run as the CLI prints it with <c>--output json</c> and the API returns it.</summary>
public sealed record RunView
{
    /// <summary>Gets the run id.</summary>
    [JsonPropertyName("run_id")]
    public required string RunId { get; init; }

    /// <summary>Gets the runbook (workflow) name.</summary>
    [JsonPropertyName("runbook")]
    public required string Runbook { get; init; }

    /// <summary>Gets the status: ready, running, waiting, completed, failed, cancelled or blocked (refused by a guard).</summary>
    [JsonPropertyName("status")]
    public required string Status { get; init; }

    /// <summary>Gets who started it (<c>user:alice</c>, <c>alert:alertmanager/DiskFull</c>).</summary>
    [JsonPropertyName("started_by")]
    public required string StartedBy { get; init; }

    /// <summary>Gets when it was created.</summary>
    [JsonPropertyName("created_at")]
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets when it ended.</summary>
    [JsonPropertyName("completed_at")]
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>Gets a value indicating whether it is a dry-run.</summary>
    [JsonPropertyName("dry_run")]
    public bool DryRun { get; init; }

    /// <summary>Gets its inputs (secret references, never secret values).</summary>
    [JsonPropertyName("inputs")]
    public JsonNode? Inputs { get; init; }

    /// <summary>Gets its outputs once completed.</summary>
    [JsonPropertyName("output")]
    public JsonNode? Output { get; init; }

    /// <summary>Gets the kind of error it failed with.</summary>
    [JsonPropertyName("error_kind")]
    public string? ErrorKind { get; init; }

    /// <summary>Gets the error it failed with.</summary>
    [JsonPropertyName("error")]
    public string? Error { get; init; }

    /// <summary>Gets the hash of the pinned definition.</summary>
    [JsonPropertyName("definition_hash")]
    public required string DefinitionHash { get; init; }

    /// <summary>Gets the game-day drill the run belongs to (started by <c>runbook drill run --live</c>), or null for a real run.</summary>
    [JsonPropertyName("drill")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Drill { get; init; }

    /// <summary>Gets a value indicating whether the run has ended.</summary>
    [JsonIgnore]
    public bool IsTerminal => Status is "completed" or "failed" or "cancelled" or "blocked";
}
