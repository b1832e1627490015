using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>One timeline event.</summary>
/// <param name="Seq">Its sequence number in the run.</param>
/// <param name="At">When.</param>
/// <param name="Actor">Who.</param>
/// <param name="Kind">What kind of event.</param>
/// <param name="Data">Its data.</param>
/// <param name="Hash">Its hash in the chain.</param>
public sealed record EventView(
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("actor")] string Actor,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("data")] JsonNode? Data,
    [property: JsonPropertyName("hash")] string Hash)
{
    /// <summary>Gets the event as one readable line (what <c>runbook timeline</c> prints).</summary>
    [JsonPropertyName("text")]
    public string Text => EventText.Describe(this);
}
