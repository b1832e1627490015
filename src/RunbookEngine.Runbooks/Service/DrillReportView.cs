using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A stored game-day drill report, as <c>runbook drill list</c> prints it and <c>GET /api/drills</c> returns it.</summary>
public sealed record DrillReportView
{
    /// <summary>Gets the report's id.</summary>
    [JsonPropertyName("id")]
    public required long Id { get; init; }

    /// <summary>Gets when the drill ran (wall-clock time).</summary>
    [JsonPropertyName("at")]
    public DateTimeOffset At { get; init; }

    /// <summary>Gets the drill's name.</summary>
    [JsonPropertyName("drill")]
    public required string Drill { get; init; }

    /// <summary>Gets the runbook it exercised.</summary>
    [JsonPropertyName("runbook")]
    public required string Runbook { get; init; }

    /// <summary>Gets a value indicating whether every expectation held.</summary>
    [JsonPropertyName("passed")]
    public bool Passed { get; init; }

    /// <summary>Gets how it ran: replay (virtual time, every call answered from the file) or live.</summary>
    [JsonPropertyName("mode")]
    public required string Mode { get; init; }

    /// <summary>Gets who ran it.</summary>
    [JsonPropertyName("by")]
    public required string By { get; init; }

    /// <summary>Gets how the drill's run ended, or null when none started.</summary>
    [JsonPropertyName("status")]
    public string? Status { get; init; }

    /// <summary>Gets the time from the alert firing to the run starting, in seconds.</summary>
    [JsonPropertyName("mttd_seconds")]
    public double? MttdSeconds { get; init; }

    /// <summary>Gets the time from the alert firing to recovery, in seconds.</summary>
    [JsonPropertyName("mttr_seconds")]
    public double? MttrSeconds { get; init; }

    /// <summary>Gets the expectations that did not hold.</summary>
    [JsonPropertyName("failed")]
    public IReadOnlyList<string> Failed { get; init; } = [];

    /// <summary>Gets the whole report (what <c>runbook drill run --report json</c> prints for the drill); only when one report is read.</summary>
    [JsonPropertyName("report")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonObject? Report { get; init; }
}
