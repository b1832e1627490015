using System.Text.Json.Nodes;

namespace RunbookEngine.Runbooks;

/// <summary>What a runbook run starts with, stored as the run's input.</summary>
/// <param name="Inputs">The bound inputs (secret inputs hold references only).</param>
/// <param name="DryRun">Whether every action only plans.</param>
/// <param name="RetryOf">The run this one retries, if any.</param>
/// <param name="FromStep">With <paramref name="RetryOf"/>: the step to start at; earlier steps reuse that run's outputs.</param>
/// <param name="Prior">Step id to <c>{ status, result }</c> of the retried run: reused steps recompute their outputs from the result.</param>
/// <param name="Gate">The approval gate of a run an alert started (see <see cref="RunGate"/>), or null.</param>
/// <param name="Alert">The alert that started it, <c>{ source, fired_at }</c>, for the time from alert to first step and to recovery; or null.</param>
/// <param name="Drill">The game-day drill the run belongs to, or null for a real one: a drill run is never counted as an incident.</param>
/// <param name="Script">
/// A live drill's answers for the steps it does not mark live (<c>live.steps</c>), or null: every action runs.
/// </param>
public sealed record RunbookRunInput(JsonObject Inputs, bool DryRun = false, string? RetryOf = null, string? FromStep = null, JsonObject? Prior = null, JsonObject? Gate = null, JsonObject? Alert = null, string? Drill = null, JsonObject? Script = null)
{
    /// <summary>Serializes to the stored form.</summary>
    /// <returns>The JSON object.</returns>
    public JsonObject ToJson()
    {
        var json = Core();
        if (Drill is not null)
        {
            json["drill"] = Drill; // only then: runs that are not drills keep the input they always had
        }

        if (Script is not null)
        {
            json["drill_script"] = Script.DeepClone();
        }

        return json;
    }

    private JsonObject Core() => new()
    {
        ["inputs"] = Inputs.DeepClone(),
        ["dry_run"] = DryRun,
        ["retry_of"] = RetryOf,
        ["from_step"] = FromStep,
        ["prior"] = Prior?.DeepClone(),
        ["gate"] = Gate?.DeepClone(),
        ["alert"] = Alert?.DeepClone(),
    };

    /// <summary>Reads the stored form.</summary>
    /// <param name="node">The run's input.</param>
    /// <returns>The run input.</returns>
    public static RunbookRunInput FromJson(JsonNode? node) => new(
        node?["inputs"] as JsonObject ?? [],
        node?["dry_run"]?.GetValue<bool>() ?? false,
        node?["retry_of"]?.GetValue<string>(),
        node?["from_step"]?.GetValue<string>(),
        node?["prior"] as JsonObject,
        node?["gate"] as JsonObject,
        node?["alert"] as JsonObject,
        node?["drill"] is JsonValue drill && drill.TryGetValue<string>(out var name) ? name : null,
        node?["drill_script"] as JsonObject);

    /// <summary>Gets when the alert that started the run fired, if one did and said so.</summary>
    public DateTimeOffset? AlertFiredAt =>
        Alert?["fired_at"] is JsonValue v && v.TryGetValue<string>(out var text) && DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at) ? at : null;
}
