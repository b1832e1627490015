using System.Text.Json.Nodes;

namespace RunbookEngine.Alerts;

/// <summary>
/// Grafana unified alerting's webhook contact point: Alertmanager's shape (<c>alerts[]</c> with <c>status</c>,
/// <c>labels</c>, <c>annotations</c>, <c>startsAt</c>, <c>endsAt</c>, <c>fingerprint</c>) plus <c>orgId</c>,
/// <c>values</c>, <c>silenceURL</c> and dashboard links, payload <c>version</c> "1".
/// </summary>
public static class GrafanaPayload
{
    /// <summary>The source name.</summary>
    public const string Source = "grafana";

    /// <summary>The notification Grafana's webhook contact point would send for these alerts (payload version 1): what a live drill delivers.</summary>
    /// <param name="alerts">The alerts of one group.</param>
    /// <param name="receiver">The contact point's name.</param>
    /// <returns>The notification.</returns>
    public static JsonObject Notification(IReadOnlyList<Alert> alerts, string receiver)
    {
        var notification = AlertmanagerPayload.Notification(alerts, receiver);
        var firing = alerts.Count(a => a.Firing);
        notification["version"] = "1";
        notification["orgId"] = 1;
        notification["state"] = firing > 0 ? "alerting" : "ok";
        notification["title"] = $"[{(firing > 0 ? "FIRING" : "RESOLVED")}:{alerts.Count}] {string.Join(", ", alerts.Select(a => a.Name).Distinct(StringComparer.Ordinal))}";
        notification["message"] = string.Empty;
        foreach (var alert in notification["alerts"]!.AsArray())
        {
            alert!["values"] = new JsonObject();
            alert["valueString"] = string.Empty;
            alert["silenceURL"] = string.Empty;
            alert["dashboardURL"] = string.Empty;
            alert["panelURL"] = string.Empty;
        }

        return notification;
    }

    /// <summary>Reads the alerts of a notification.</summary>
    /// <param name="payload">The parsed body.</param>
    /// <returns>The alerts.</returns>
    /// <exception cref="AlertPayloadException">Not a Grafana webhook notification; the message names the field.</exception>
    public static IReadOnlyList<Alert> Parse(JsonNode? payload)
    {
        if (payload is not JsonObject root)
        {
            throw new AlertPayloadException("a Grafana webhook notification is a JSON object with 'alerts'");
        }

        if (root["version"] is { } version && AlertmanagerPayload.Text(version) != "1")
        {
            throw new AlertPayloadException($"Grafana webhook version '{AlertmanagerPayload.Text(version)}' is not supported; version 1 is");
        }

        return AlertmanagerPayload.Alerts(root, Source);
    }
}
