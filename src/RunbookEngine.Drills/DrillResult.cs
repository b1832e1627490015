using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RunbookEngine.Drills;

/// <summary>What a drill's replay did and which expectations held.</summary>
public sealed record DrillResult
{
    /// <summary>Gets the drill's name.</summary>
    [JsonPropertyName("drill")]
    public required string Drill { get; init; }

    /// <summary>Gets the drill file.</summary>
    [JsonPropertyName("file")]
    public required string File { get; init; }

    /// <summary>Gets the runbook replayed.</summary>
    [JsonPropertyName("runbook")]
    public required string Runbook { get; init; }

    /// <summary>Gets the runbook's file.</summary>
    [JsonPropertyName("runbook_file")]
    public required string RunbookFile { get; init; }

    /// <summary>Gets how the drill ran: replay (virtual time, every call answered from the file) or live.</summary>
    [JsonPropertyName("mode")]
    public string Mode { get; init; } = "replay";

    /// <summary>Gets a value indicating whether every expectation held.</summary>
    [JsonPropertyName("passed")]
    public bool Passed => Checks.All(c => c.Passed);

    /// <summary>Gets the expectations, each passed or failed.</summary>
    [JsonPropertyName("checks")]
    public required IReadOnlyList<DrillCheck> Checks { get; init; }

    /// <summary>Gets what the alerts' routing did, one line per alert and notification.</summary>
    [JsonPropertyName("alerts")]
    public IReadOnlyList<string> Alerts { get; init; } = [];

    /// <summary>Gets the engine faults injected, as they struck.</summary>
    [JsonPropertyName("faults")]
    public IReadOnlyList<DrillFaultEvent> Faults { get; init; } = [];

    /// <summary>Gets the main run's final status, or null when no run started.</summary>
    [JsonPropertyName("status")]
    public string? Status { get; init; }

    /// <summary>Gets the run's error kind.</summary>
    [JsonPropertyName("error_kind")]
    public string? ErrorKind { get; init; }

    /// <summary>Gets the run's error.</summary>
    [JsonPropertyName("error")]
    public string? Error { get; init; }

    /// <summary>Gets the run's outputs.</summary>
    [JsonPropertyName("output")]
    public JsonNode? Output { get; init; }

    /// <summary>Gets the time from the alert firing to the run starting.</summary>
    [JsonPropertyName("mttd")]
    public TimeSpan? Mttd { get; init; }

    /// <summary>Gets the time from the alert firing to recovery.</summary>
    [JsonPropertyName("mttr")]
    public TimeSpan? Mttr { get; init; }

    /// <summary>Gets what recovery was: verified (a verify passed), completed (the run succeeded) or resolved (the alert resolved).</summary>
    [JsonPropertyName("recovered_by")]
    public string? RecoveredBy { get; init; }

    /// <summary>Gets the runbook steps that ran.</summary>
    [JsonPropertyName("steps_run")]
    public IReadOnlyList<string> StepsRun { get; init; } = [];

    /// <summary>Gets the runbook steps that were skipped.</summary>
    [JsonPropertyName("steps_skipped")]
    public IReadOnlyList<string> StepsSkipped { get; init; } = [];

    /// <summary>Gets every action call, in order.</summary>
    [JsonPropertyName("calls")]
    public IReadOnlyList<DrillCall> Calls { get; init; } = [];

    /// <summary>Gets the main run's timeline.</summary>
    [JsonPropertyName("timeline")]
    public IReadOnlyList<DrillEvent> Timeline { get; init; } = [];

    /// <summary>Gets what the drill noticed beyond its expectations (an unanswered call, a hang, an undeliverable decision).</summary>
    [JsonPropertyName("notes")]
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Gets how much incident time the drill covered.</summary>
    [JsonPropertyName("virtual_duration")]
    public TimeSpan VirtualDuration { get; init; }

    /// <summary>Gets how long the replay took on this machine.</summary>
    [JsonPropertyName("elapsed_ms")]
    public double ElapsedMilliseconds { get; init; }
}
