using System.Text.Json.Nodes;
using RunbookEngine.Alerts;

namespace RunbookEngine.Drills;

/// <summary>
/// How a live drill sends an alert: as the notification its source would send (Alertmanager, Grafana, PagerDuty,
/// Azure Monitor) to that source's webhook, <c>/hooks/SOURCE</c>. Each payload is read back with the source's own
/// parser before anything is sent, so a label or annotation that the source's format cannot carry is found
/// beforehand (a drill that went live without it would not be the drill that was written).
/// </summary>
public static class DrillDelivery
{
    /// <summary>The label a live drill adds to its alerts, so its episode is never a real one's.</summary>
    public const string DrillLabel = "runbook_drill";

    /// <summary>The receiver (contact point) name of a live drill's notifications.</summary>
    public const string Receiver = "runbook-drill";

    /// <summary>The alert as a live drill sends it: the drill's own label added, its fingerprint over both.</summary>
    /// <param name="drill">The drill's name.</param>
    /// <param name="alert">The drill's alert.</param>
    /// <param name="start">When the drill started.</param>
    /// <param name="status">firing or resolved.</param>
    /// <param name="ends">When it resolved (from the drill's start), for a resolved one.</param>
    /// <returns>The alert.</returns>
    public static Alert Make(string drill, DrillAlert alert, DateTimeOffset start, string status, TimeSpan? ends)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var labels = new Dictionary<string, string>(alert.Labels, StringComparer.Ordinal) { [DrillLabel] = drill };
        if (alert.Source == PagerDutyPayload.Source)
        {
            // An incident has no labels of its own: the drill's incident id keeps its episode apart instead.
            labels.Remove(DrillLabel);
            labels["incident_id"] = $"drill-{drill}-{Alert.FingerprintOf(alert.Labels)}";
        }

        return new Alert(alert.Source, status, Alert.FingerprintOf(labels), labels, alert.Annotations, start + alert.Fired, ends is { } e ? start + e : null, null);
    }

    /// <summary>The notification of an alert in its source's format.</summary>
    /// <param name="alert">The alert (from <see cref="Make"/>).</param>
    /// <param name="now">When it is sent.</param>
    /// <returns>The payload.</returns>
    public static JsonObject Payload(Alert alert, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(alert);
        return alert.Source switch
        {
            GrafanaPayload.Source => GrafanaPayload.Notification([alert], Receiver),
            PagerDutyPayload.Source => PagerDutyPayload.Delivery(alert, now),
            AzureMonitorPayload.Source => AzureMonitorPayload.Notification(alert),
            _ => AlertmanagerPayload.Notification([alert], Receiver),
        };
    }

    /// <summary>What of a drill's alert its source's notification cannot carry, each at the alert's line.</summary>
    /// <param name="drill">The drill's name.</param>
    /// <param name="alert">The alert.</param>
    /// <returns>The problems; none when the webhook will read back exactly the alert the drill wrote.</returns>
    public static IReadOnlyList<string> Problems(string drill, DrillAlert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var sent = Make(drill, alert, DateTimeOffset.UnixEpoch, "firing", null);
        var read = Parse(alert.Source, Payload(sent, DateTimeOffset.UnixEpoch)).Single();
        var problems = new List<string>();
        foreach (var (key, value) in alert.Labels)
        {
            if (key == "incident_id" && alert.Source == PagerDutyPayload.Source)
            {
                continue; // a live drill's incident is its own
            }

            if (read.Labels.GetValueOrDefault(key) != value)
            {
                problems.Add($"{alert.At}: label '{key}' cannot be sent live to /hooks/{alert.Source} ({Carries(alert.Source)}); keep it for replays or drop it");
            }
        }

        foreach (var (key, value) in alert.Annotations)
        {
            if (!Stamped(alert.Source).Contains(key, StringComparer.Ordinal) && read.Annotations.GetValueOrDefault(key) != value)
            {
                problems.Add($"{alert.At}: annotation '{key}' cannot be sent live to /hooks/{alert.Source} ({Carries(alert.Source)}); keep it for replays or drop it");
            }
        }

        return problems;
    }

    /// <summary>Reads a payload back as the server's webhook for that source does.</summary>
    /// <param name="source">The source.</param>
    /// <param name="payload">The payload.</param>
    /// <returns>The alerts.</returns>
    public static IReadOnlyList<Alert> Parse(string source, JsonNode payload) => source switch
    {
        GrafanaPayload.Source => GrafanaPayload.Parse(payload),
        PagerDutyPayload.Source => PagerDutyPayload.Parse(payload),
        AzureMonitorPayload.Source => AzureMonitorPayload.Parse(payload),
        _ => AlertmanagerPayload.Parse(payload),
    };

    // What each source stamps on every delivery itself: a recorded drill has them, and they are never the same twice.
    private static string[] Stamped(string source) => source switch
    {
        PagerDutyPayload.Source => ["event_id", "event_type", "status", "agent", "resolve_reason"],
        AzureMonitorPayload.Source => ["alert_id", "origin_alert_id"],
        _ => [],
    };

    private static string Carries(string source) => source switch
    {
        PagerDutyPayload.Source => "an incident carries only title/alertname, incident_number, urgency, service, service_id, priority, escalation_policy and team, and the summary annotation as its title",
        AzureMonitorPayload.Source => "labels go into the essentials and customProperties; of the annotations only description",
        _ => "labels and annotations as strings",
    };
}
