using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A run's timeline and whether its hash chain is intact.</summary>
/// <param name="RunId">The run.</param>
/// <param name="ChainIntact">Whether the chain verifies (only meaningful when read from the start).</param>
/// <param name="ChainProblem">Where and how it is broken.</param>
/// <param name="Events">The events.</param>
public sealed record TimelineView(
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("chain_intact")] bool ChainIntact,
    [property: JsonPropertyName("chain_problem")] string? ChainProblem,
    [property: JsonPropertyName("events")] IReadOnlyList<EventView> Events);
