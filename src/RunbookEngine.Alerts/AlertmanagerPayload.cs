using System.Globalization;
using System.Text.Json.Nodes;

namespace RunbookEngine.Alerts;

/// <summary>
/// The Prometheus Alertmanager webhook, payload version 4: a notification for one alert group, with
/// <c>alerts[]</c> of <c>status</c>, <c>labels</c>, <c>annotations</c>, <c>startsAt</c>, <c>endsAt</c>,
/// <c>generatorURL</c> and <c>fingerprint</c>.
/// </summary>
public static class AlertmanagerPayload
{
    /// <summary>The source name.</summary>
    public const string Source = "alertmanager";

    /// <summary>The notification Alertmanager would send for these alerts (webhook version 4): what a live drill delivers.</summary>
    /// <param name="alerts">The alerts of one group.</param>
    /// <param name="receiver">The receiver's name.</param>
    /// <returns>The notification.</returns>
    public static JsonObject Notification(IReadOnlyList<Alert> alerts, string receiver)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        static JsonObject Map(IReadOnlyDictionary<string, string> map) => new([.. map.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))]);
        static string Time(DateTimeOffset? t) => (t ?? DateTimeOffset.MinValue).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var common = alerts.Count == 0 ? [] : alerts.Skip(1).Aggregate(alerts[0].Labels.ToDictionary(), (acc, a) => acc.Where(kv => a.Labels.TryGetValue(kv.Key, out var v) && v == kv.Value).ToDictionary());
        return new JsonObject
        {
            ["version"] = "4",
            ["groupKey"] = "{}:{" + string.Join(",", common.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}=\"{kv.Value}\"")) + "}",
            ["truncatedAlerts"] = 0,
            ["status"] = alerts.Any(a => a.Firing) ? "firing" : "resolved",
            ["receiver"] = receiver,
            ["groupLabels"] = Map(common),
            ["commonLabels"] = Map(common),
            ["commonAnnotations"] = new JsonObject(),
            ["externalURL"] = string.Empty,
            ["alerts"] = new JsonArray([.. alerts.Select(a => (JsonNode)new JsonObject
            {
                ["status"] = a.Status,
                ["labels"] = Map(a.Labels),
                ["annotations"] = Map(a.Annotations),
                ["startsAt"] = Time(a.StartsAt),
                ["endsAt"] = a.EndsAt is null ? "0001-01-01T00:00:00Z" : Time(a.EndsAt),
                ["generatorURL"] = a.GeneratorUrl ?? string.Empty,
                ["fingerprint"] = a.Fingerprint,
            })]),
        };
    }

    /// <summary>Reads the alerts of a notification.</summary>
    /// <param name="payload">The parsed body.</param>
    /// <returns>The alerts.</returns>
    /// <exception cref="AlertPayloadException">Not an Alertmanager v4 notification; the message names the field.</exception>
    public static IReadOnlyList<Alert> Parse(JsonNode? payload)
    {
        if (payload is not JsonObject root)
        {
            throw new AlertPayloadException("an Alertmanager notification is a JSON object with 'version' and 'alerts'");
        }

        if (root["version"] is { } version && Text(version) != "4")
        {
            throw new AlertPayloadException($"Alertmanager webhook version '{Text(version)}' is not supported; version 4 is");
        }

        return Alerts(root, Source);
    }

    /// <summary>Reads Alertmanager-shaped <c>alerts[]</c> (also what Grafana's webhook sends).</summary>
    /// <param name="root">The notification.</param>
    /// <param name="source">The source the alerts are attributed to.</param>
    /// <returns>The alerts.</returns>
    internal static IReadOnlyList<Alert> Alerts(JsonObject root, string source)
    {
        if (root["alerts"] is not JsonArray alerts)
        {
            throw new AlertPayloadException("'alerts' must be a list of alerts");
        }

        var result = new List<Alert>();
        for (var i = 0; i < alerts.Count; i++)
        {
            var at = $"alerts[{i}]";
            if (alerts[i] is not JsonObject a)
            {
                throw new AlertPayloadException($"{at} must be an object");
            }

            var labels = Strings(a["labels"], $"{at}.labels", required: true);
            var annotations = Strings(a["annotations"], $"{at}.annotations", required: false);
            var status = Text(a["status"]) ?? Text(root["status"]);
            if (status is not ("firing" or "resolved"))
            {
                throw new AlertPayloadException($"{at}.status must be firing or resolved, not '{status}'");
            }

            var fingerprint = Text(a["fingerprint"]) is { Length: > 0 } f ? f : Alert.FingerprintOf(labels);
            result.Add(new Alert(source, status, fingerprint, labels, annotations, Time(a["startsAt"], $"{at}.startsAt"), Time(a["endsAt"], $"{at}.endsAt"), Text(a["generatorURL"])));
        }

        return result;
    }

    internal static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : node?.ToJsonString();

    /// <summary>Sets a label or annotation from a payload value, when it has non-empty text.</summary>
    internal static void Put(Dictionary<string, string> into, string key, JsonNode? value)
    {
        if (Text(value) is { Length: > 0 } text)
        {
            into[key] = text;
        }
    }

    internal static Dictionary<string, string> Strings(JsonNode? node, string at, bool required)
    {
        if (node is null && !required)
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }

        if (node is not JsonObject o)
        {
            throw new AlertPayloadException($"{at} must be an object of names to strings");
        }

        return o.ToDictionary(p => p.Key, p => Text(p.Value) ?? string.Empty, StringComparer.Ordinal);
    }

    internal static DateTimeOffset? Time(JsonNode? node, string at)
    {
        var text = Text(node);
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
        {
            throw new AlertPayloadException($"{at} '{text}' is not an RFC 3339 time");
        }

        // Alertmanager sends endsAt 0001-01-01T00:00:00Z for an alert with no end yet.
        return t.Year <= 1 ? null : t;
    }
}
