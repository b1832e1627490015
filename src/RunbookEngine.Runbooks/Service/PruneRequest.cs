using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Runbooks.Service;

/// <summary>What <see cref="StorePruner"/> removes.</summary>
/// <param name="OlderThan">Finished runs that ended, and journal entries received, longer ago than this.</param>
/// <param name="Actor">Who prunes, as recorded in the tombstones (e.g. <c>user:alice</c>, <c>system:retention</c>).</param>
public sealed record PruneRequest(TimeSpan OlderThan, string Actor)
{
    /// <summary>The shortest retention accepted: a guard's cooldown or rate window, and an operator's follow-up, look back at least this far.</summary>
    public static readonly TimeSpan Minimum = TimeSpan.FromHours(1);

    /// <summary>Gets a value indicating whether only to count what would be removed. Default false.</summary>
    public bool DryRun { get; init; }

    /// <summary>Gets how many runs (or journal entries, ten times as many) one transaction removes. Default 200.</summary>
    /// <remarks>Small batches keep each transaction short, so running work commits between them.</remarks>
    public int BatchSize { get; init; } = 200;

    /// <summary>Gets a value indicating whether to prune the journal of alerts that started no run. Default true.</summary>
    public bool Journal { get; init; } = true;

    /// <summary>Gets a value indicating whether to prune finished runs. Default true (false on an engine whose runs live elsewhere).</summary>
    public bool Runs { get; init; } = true;

    /// <summary>Gets an action that saves a run before it is removed (its timeline to a file, say), or null. A run whose export fails is kept and the prune stops.</summary>
    public Func<RunRecord, CancellationToken, Task>? Export { get; init; }
}
