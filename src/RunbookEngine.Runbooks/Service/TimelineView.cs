using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A run's timeline and whether its hash chain is intact.</summary>
/// <param name="RunId">The run.</param>
/// <param name="ChainIntact">Whether the chain verifies (only meaningful when read from the start).</param>
/// <param name="ChainProblem">Where and how it is broken.</param>
/// <param name="Events">The events.</param>
/// <param name="Earlier">How many older events a page of the timeline left out (<c>last=</c>); 0, and not written, otherwise.</param>
public sealed record TimelineView(
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("chain_intact")] bool ChainIntact,
    [property: JsonPropertyName("chain_problem")] string? ChainProblem,
    [property: JsonPropertyName("events")] IReadOnlyList<EventView> Events,
    [property: JsonPropertyName("earlier"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Earlier = 0)
{
    /// <summary>
    /// A page of this timeline: the events before <paramref name="before"/> whose kind is one of
    /// <paramref name="kinds"/> (a kind ending in '.' is a prefix), the newest <paramref name="last"/> of them,
    /// with <see cref="Earlier"/> saying how many older ones were left out. The chain check stays the whole timeline's.
    /// </summary>
    /// <param name="before">Only events with a lower sequence number, or null.</param>
    /// <param name="kinds">Only these kinds, or empty for all.</param>
    /// <param name="last">Only the newest this many, or null for all.</param>
    /// <returns>The page.</returns>
    public TimelineView Page(long? before, IReadOnlyCollection<string> kinds, int? last)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        var selected = Events.Where(e => (before is null || e.Seq < before) && (kinds.Count == 0 || kinds.Any(k => k.EndsWith('.') ? e.Kind.StartsWith(k, StringComparison.Ordinal) : e.Kind == k))).ToList();
        var kept = last is { } n && selected.Count > n ? selected[^n..] : selected;
        return this with { Events = kept, Earlier = selected.Count - kept.Count };
    }
}
