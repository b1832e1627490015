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
