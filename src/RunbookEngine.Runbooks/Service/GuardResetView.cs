using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A recorded guard reset.</summary>
/// <param name="At">When.</param>
/// <param name="By">Who.</param>
/// <param name="Reason">Why.</param>
public sealed record GuardResetView(
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("by")] string By,
    [property: JsonPropertyName("reason")] string Reason);
