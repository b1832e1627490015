using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RunbookEngine.Drills;

/// <summary>A timeline event of a drill's run, with its time counted from the drill's start.</summary>
/// <param name="Seq">Its sequence in the run's timeline.</param>
/// <param name="At">When, from the drill's start.</param>
/// <param name="Actor">Who or what recorded it.</param>
/// <param name="Kind">Its kind.</param>
/// <param name="Data">Its data.</param>
public sealed record DrillEvent(
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("at")] TimeSpan At,
    [property: JsonPropertyName("actor")] string Actor,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("data")] JsonNode? Data)
{
    /// <summary>Gets the step the event is about, if any.</summary>
    [JsonIgnore]
    public string? Step => Data?["step"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
