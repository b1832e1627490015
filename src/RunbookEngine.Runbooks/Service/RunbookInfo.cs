using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A runbook found in the runbook directories.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Description">Its description.</param>
/// <param name="File">Its file.</param>
/// <param name="Valid">Whether it is valid.</param>
/// <param name="Problems">How many problems it has.</param>
/// <param name="Inputs">Its input names.</param>
public sealed record RunbookInfo(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("valid")] bool Valid,
    [property: JsonPropertyName("problems")] int Problems,
    [property: JsonPropertyName("inputs")] IReadOnlyList<string> Inputs)
{
    /// <summary>Gets the alerts that start it (<c>triggers:</c>).</summary>
    [JsonPropertyName("triggers")]
    public IReadOnlyList<TriggerInfo> Triggers { get; init; } = [];

    /// <summary>Gets its newest run, or null when it never ran.</summary>
    [JsonPropertyName("last_run")]
    public LastRunInfo? LastRun { get; init; }
}

/// <summary>One trigger of a runbook, as the console and <c>runbook list -o json</c> show it.</summary>
/// <param name="Source">The alert source (null: any).</param>
/// <param name="Match">Its label matchers, e.g. <c>alertname = DiskFull</c>.</param>
/// <param name="Mode"><c>live</c>, <c>dry-run</c> or <c>approval</c>.</param>
public sealed record TriggerInfo(
    [property: JsonPropertyName("source")] string? Source,
    [property: JsonPropertyName("match")] IReadOnlyList<string> Match,
    [property: JsonPropertyName("mode")] string Mode);

/// <summary>A runbook's newest run.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Status">Its status.</param>
/// <param name="CreatedAt">When it was started.</param>
/// <param name="StartedBy">Who started it.</param>
public sealed record LastRunInfo(
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("started_by")] string StartedBy);
