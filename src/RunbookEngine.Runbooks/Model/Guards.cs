namespace RunbookEngine.Runbooks.Model;

/// <summary>A runbook's <c>guards:</c>: what keeps automation from looping or piling onto a failing target.</summary>
/// <param name="Target">The target key template (e.g. <c>${{ inputs.host }}</c>), or null: one guard for the whole runbook.</param>
/// <param name="MaxLive">At most this many live runs per target; 0 for no limit. Default 1.</param>
/// <param name="Cooldown">After a run of the target ends, no new run starts for this long.</param>
/// <param name="Rate">At most so many runs per target start within a window.</param>
/// <param name="Breaker">The circuit breaker per target.</param>
/// <param name="Location">Where it is declared.</param>
public sealed record GuardSpec(Template? Target, int MaxLive, TimeSpan? Cooldown, RateLimit? Rate, BreakerSpec? Breaker, SourceLocation Location);

/// <summary>At most <paramref name="Max"/> runs start within <paramref name="Per"/>.</summary>
/// <param name="Max">The most runs.</param>
/// <param name="Per">The sliding window.</param>
public sealed record RateLimit(int Max, TimeSpan Per);

/// <summary>What a breaker counts as a failure.</summary>
public enum BreakerCount
{
    /// <summary>Failed runs.</summary>
    Runs,

    /// <summary>Steps that failed for good (whether or not the run handled it), and failed runs with no failed step.</summary>
    Steps,
}

/// <summary>
/// <paramref name="Failures"/> failed runs (or steps) within <paramref name="Window"/> open the breaker: no run starts for
/// <paramref name="OpenFor"/>; then one trial run may start (half-open): if it completes the breaker closes,
/// if it fails it opens again.
/// </summary>
/// <param name="Failures">Failed runs that open it.</param>
/// <param name="Window">The window they are counted in.</param>
/// <param name="OpenFor">How long it stays open before a trial.</param>
public sealed record BreakerSpec(int Failures, TimeSpan Window, TimeSpan OpenFor)
{
    /// <summary>Gets what counts as a failure: runs (default) or steps.</summary>
    public BreakerCount Count { get; init; }
}
