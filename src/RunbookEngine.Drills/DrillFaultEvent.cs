using System.Text.Json.Serialization;

namespace RunbookEngine.Drills;

/// <summary>An injected fault as it happened in a drill.</summary>
/// <param name="Kind">worker_dies, store_unreachable, or delivery_refused (an alert, a start or a decision the store could not take).</param>
/// <param name="At">When it struck, from the drill's start.</param>
/// <param name="Until">When it ended (the store came back, a new worker started), or null.</param>
/// <param name="What">What happened, in words.</param>
public sealed record DrillFaultEvent(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("at")] TimeSpan At,
    [property: JsonPropertyName("until")] TimeSpan? Until,
    [property: JsonPropertyName("what")] string What);
