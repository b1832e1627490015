using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace RunbookEngine.Alerts;

/// <summary>
/// PagerDuty V3 webhooks: one <c>event</c> per delivery, with <c>event_type</c>, <c>occurred_at</c> and the
/// incident under <c>data</c>. <c>incident.triggered</c> fires and <c>incident.resolved</c> resolves an alert
/// whose fingerprint is the incident id; other event types are acknowledged and not routed. Deliveries are
/// signed: <c>X-PagerDuty-Signature: v1=HEX[,v1=HEX]</c>, the HMAC-SHA256 of the raw body with each secret.
/// </summary>
public static class PagerDutyPayload
{
    /// <summary>The source name.</summary>
    public const string Source = "pagerduty";

    /// <summary>The signature header.</summary>
    public const string SignatureHeader = "X-PagerDuty-Signature";

    /// <summary>The event types that are routed.</summary>
    public static readonly IReadOnlyList<string> Routed = ["incident.triggered", "incident.resolved"];

    /// <summary>Whether the body carries a valid signature of one of the secrets (constant-time comparison).</summary>
    /// <param name="body">The raw request body.</param>
    /// <param name="header">The <c>X-PagerDuty-Signature</c> header.</param>
    /// <param name="secrets">The subscription's signing secrets (several during a rotation).</param>
    /// <returns>Whether one signature matches.</returns>
    public static bool Verify(ReadOnlySpan<byte> body, string? header, IEnumerable<string> secrets)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        if (string.IsNullOrEmpty(header))
        {
            return false;
        }

        var given = header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(s => s.StartsWith("v1=", StringComparison.Ordinal))
            .Select(s => Encoding.ASCII.GetBytes(s[3..].ToLowerInvariant()))
            .ToList();
        var ok = false;
        foreach (var secret in secrets)
        {
            var expected = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body)));
            foreach (var signature in given)
            {
                ok |= CryptographicOperations.FixedTimeEquals(expected, signature);
            }
        }

        return ok;
    }

    /// <summary>The signature header value for a body (for senders and tests).</summary>
    /// <param name="body">The body.</param>
    /// <param name="secret">The secret.</param>
    /// <returns><c>v1=HEX</c>.</returns>
    public static string Sign(ReadOnlySpan<byte> body, string secret) =>
        "v1=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret ?? string.Empty), body));

    /// <summary>
    /// The delivery a V3 webhook subscription would send for this alert: <c>incident.triggered</c> while it fires,
    /// <c>incident.resolved</c> once resolved; what a live drill delivers. The incident is made of the labels
    /// <see cref="Parse"/> reads (incident_id, else the fingerprint; title, else alertname; incident_number,
    /// urgency, service, service_id, priority, escalation_policy, team); PagerDuty has no field for others.
    /// </summary>
    /// <param name="alert">The alert.</param>
    /// <param name="occurredAt">When the event happened.</param>
    /// <returns>The delivery.</returns>
    public static JsonObject Delivery(Alert alert, DateTimeOffset occurredAt)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var labels = alert.Labels;
        string? Label(string key) => labels.TryGetValue(key, out var v) ? v : null;
        static JsonObject Reference(string type, string? id, string summary) => new() { ["id"] = id ?? summary, ["type"] = type, ["summary"] = summary };
        var id = Label("incident_id") ?? alert.Fingerprint;
        var at = occurredAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var data = new JsonObject
        {
            ["id"] = id,
            ["type"] = "incident",
            ["status"] = alert.Firing ? "triggered" : "resolved",
            ["incident_key"] = alert.Fingerprint,
            ["created_at"] = at,
            ["title"] = Label("title") ?? alert.Name,
            ["urgency"] = Label("urgency") ?? "high",
        };
        if (Label("incident_number") is { } number)
        {
            data["number"] = long.TryParse(number, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : number;
        }

        if (Label("service") is { } service)
        {
            data["service"] = Reference("service_reference", Label("service_id"), service);
        }

        if (Label("priority") is { } priority)
        {
            data["priority"] = Reference("priority_reference", null, priority);
        }

        if (Label("escalation_policy") is { } policy)
        {
            data["escalation_policy"] = Reference("escalation_policy_reference", null, policy);
        }

        if (Label("team") is { } team)
        {
            data["teams"] = new JsonArray([.. team.Split(',').Select(t => (JsonNode)Reference("team_reference", null, t))]);
        }

        if (alert.GeneratorUrl is { } link)
        {
            data["html_url"] = link;
        }

        return new JsonObject
        {
            ["event"] = new JsonObject
            {
                ["id"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{id}:{alert.Status}:{at}")))[..32],
                ["event_type"] = alert.Firing ? "incident.triggered" : "incident.resolved",
                ["resource_type"] = "incident",
                ["occurred_at"] = at,
                ["agent"] = null,
                ["client"] = new JsonObject { ["name"] = "runbook drill" },
                ["data"] = data,
            },
        };
    }

    /// <summary>Reads the alert of a delivery: none for event types that are not routed.</summary>
    /// <param name="payload">The parsed body.</param>
    /// <returns>The alerts (zero or one).</returns>
    /// <exception cref="AlertPayloadException">Not a PagerDuty V3 webhook; the message names the field.</exception>
    public static IReadOnlyList<Alert> Parse(JsonNode? payload)
    {
        if (payload is not JsonObject root || root["event"] is not JsonObject ev)
        {
            throw new AlertPayloadException("a PagerDuty V3 webhook is a JSON object with 'event'");
        }

        var type = AlertmanagerPayload.Text(ev["event_type"]) ?? throw new AlertPayloadException("event.event_type is missing");
        if (!Routed.Contains(type, StringComparer.Ordinal))
        {
            return [];
        }

        if (ev["data"] is not JsonObject data)
        {
            throw new AlertPayloadException("event.data must be the incident object");
        }

        var id = AlertmanagerPayload.Text(data["id"]) is { Length: > 0 } i ? i : throw new AlertPayloadException("event.data.id (the incident id) is missing");
        var occurred = AlertmanagerPayload.Time(ev["occurred_at"], "event.occurred_at");
        // Labels are what triggers match, so they hold only what stays the same from trigger to resolution:
        // the event type and the incident's status go to annotations (and alert.status says firing or resolved).
        var labels = new Dictionary<string, string>(StringComparer.Ordinal) { ["incident_id"] = id };
        AlertmanagerPayload.Put(labels, "alertname", data["title"]);
        AlertmanagerPayload.Put(labels, "title", data["title"]);
        AlertmanagerPayload.Put(labels, "incident_number", data["number"]);
        AlertmanagerPayload.Put(labels, "urgency", data["urgency"]);
        AlertmanagerPayload.Put(labels, "service", data["service"]?["summary"]);
        AlertmanagerPayload.Put(labels, "service_id", data["service"]?["id"]);
        AlertmanagerPayload.Put(labels, "priority", data["priority"]?["summary"]);
        AlertmanagerPayload.Put(labels, "escalation_policy", data["escalation_policy"]?["summary"]);
        if (data["teams"] is JsonArray teams && teams.Count > 0)
        {
            labels["team"] = string.Join(",", teams.Select(t => AlertmanagerPayload.Text(t?["summary"])).Where(t => t is not null));
        }

        var annotations = new Dictionary<string, string>(StringComparer.Ordinal) { ["event_type"] = type };
        AlertmanagerPayload.Put(annotations, "status", data["status"]);
        AlertmanagerPayload.Put(annotations, "summary", data["title"]);
        AlertmanagerPayload.Put(annotations, "event_id", ev["id"]);
        AlertmanagerPayload.Put(annotations, "agent", ev["agent"]?["summary"]);
        AlertmanagerPayload.Put(annotations, "resolve_reason", data["resolve_reason"]);
        var resolved = type == "incident.resolved";

        // One incident is one episode: its id is the fingerprint, and no start time is needed to find its run.
        return [new Alert(Source, resolved ? "resolved" : "firing", id, labels, annotations, null, resolved ? occurred : null, AlertmanagerPayload.Text(data["html_url"]))];
    }
}
