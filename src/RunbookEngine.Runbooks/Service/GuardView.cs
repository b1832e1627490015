using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A guard key's state, as <c>runbook guards</c> prints it and <c>GET /api/guards</c> returns it.</summary>
public sealed record GuardView
{
    /// <summary>Gets the key: the runbook, and its target when the guard declares one (<c>restart-service/web-1</c>).</summary>
    [JsonPropertyName("key")]
    public required string Key { get; init; }

    /// <summary>Gets the runbook.</summary>
    [JsonPropertyName("runbook")]
    public required string Runbook { get; init; }

    /// <summary>Gets the target, if the guard declares one.</summary>
    [JsonPropertyName("target")]
    public string? Target { get; init; }

    /// <summary>Gets a value indicating whether the runbook still declares guards (false: shown as stored, not evaluated).</summary>
    [JsonPropertyName("declared")]
    public bool Declared { get; init; }

    /// <summary>Gets the breaker: closed, open, half-open, or none when the guard has no breaker.</summary>
    [JsonPropertyName("breaker")]
    public string? Breaker { get; init; }

    /// <summary>Gets when an open breaker lets a trial run start.</summary>
    [JsonPropertyName("open_until")]
    public DateTimeOffset? OpenUntil { get; init; }

    /// <summary>Gets the live trial run of a half-open breaker.</summary>
    [JsonPropertyName("trial_run")]
    public string? TrialRun { get; init; }

    /// <summary>Gets the failed runs counted in the breaker's window.</summary>
    [JsonPropertyName("recent_failures")]
    public int RecentFailures { get; init; }

    /// <summary>Gets when the cooldown ends, while it lasts.</summary>
    [JsonPropertyName("cooldown_until")]
    public DateTimeOffset? CooldownUntil { get; init; }

    /// <summary>Gets the runs started within the rate window.</summary>
    [JsonPropertyName("recent_runs")]
    public int RecentRuns { get; init; }

    /// <summary>Gets the rate limit's maximum, if declared.</summary>
    [JsonPropertyName("rate_max")]
    public int? RateMax { get; init; }

    /// <summary>Gets the most live runs allowed (0: no limit).</summary>
    [JsonPropertyName("max_live")]
    public int MaxLive { get; init; }

    /// <summary>Gets the live runs.</summary>
    [JsonPropertyName("live_runs")]
    public IReadOnlyList<string> LiveRuns { get; init; } = [];

    /// <summary>Gets the last reset.</summary>
    [JsonPropertyName("last_reset")]
    public GuardResetView? LastReset { get; init; }

    /// <summary>Gets when a decision or reset last changed it.</summary>
    [JsonPropertyName("updated_at")]
    public DateTimeOffset UpdatedAt { get; init; }
}
