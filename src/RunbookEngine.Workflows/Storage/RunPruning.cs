namespace RunbookEngine.Workflows.Storage;

/// <summary>One batch of a prune of finished runs.</summary>
/// <param name="EndedBefore">Only runs that ended before this instant.</param>
/// <param name="Limit">The most runs removed in this batch.</param>
/// <param name="Actor">Who prunes (recorded in each tombstone).</param>
/// <param name="At">When (recorded in each tombstone).</param>
public sealed record RunPruning(DateTimeOffset EndedBefore, int Limit, string Actor, DateTimeOffset At)
{
    /// <summary>Gets only these runs (those already exported, say), or null for the ones that ended first.</summary>
    /// <remarks>A listed run that is no longer eligible (it was pruned meanwhile) is skipped.</remarks>
    public IReadOnlyList<string>? RunIds { get; init; }
}
