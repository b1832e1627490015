using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>
/// An alert that was accepted but started no run (no trigger matched, the trigger's inputs were invalid, or it
/// resolved with no run), kept in the store's journal: <c>runbook alerts</c>, <c>GET /api/alerts</c>.
/// </summary>
/// <param name="Id">Its position in the journal (newest first; page with <c>before</c>).</param>
/// <param name="At">When it was received.</param>
/// <param name="Source">Its source.</param>
/// <param name="Outcome">unmatched, invalid or no_run.</param>
/// <param name="Alert">Its name.</param>
/// <param name="Fingerprint">Its fingerprint.</param>
/// <param name="Status">firing or resolved.</param>
/// <param name="Runbook">The runbook whose trigger matched, for invalid and no_run.</param>
/// <param name="Reason">Why it started nothing, for invalid.</param>
/// <param name="Labels">Its labels.</param>
public sealed record ReceivedAlertView(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("alert")] string Alert,
    [property: JsonPropertyName("fingerprint")] string? Fingerprint,
    [property: JsonPropertyName("status")] string? Status,
    [property: JsonPropertyName("runbook")] string? Runbook,
    [property: JsonPropertyName("reason")] string? Reason,
    [property: JsonPropertyName("labels")] JsonObject? Labels);
