using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RunbookEngine.Alerts;

/// <summary>
/// Azure Monitor's common alert schema (<c>schemaId: azureMonitorCommonAlertSchema</c>), as an action group's
/// webhook sends it: one alert per request, its <c>data.essentials</c> (alert id, rule, severity, monitor
/// condition <c>Fired</c>/<c>Resolved</c>, target resources, fired and resolved times), an <c>alertContext</c>
/// that depends on the signal, and <c>customProperties</c> set on the action.
/// </summary>
public static partial class AzureMonitorPayload
{
    /// <summary>The source name.</summary>
    public const string Source = "azure-monitor";

    /// <summary>
    /// The notification an action group's webhook would send for this alert (common alert schema): what a live
    /// drill delivers. Labels that the schema has a field for go there (alertname as the rule, severity,
    /// signal_type, monitoring_service, target_resource, resource), the rest into <c>customProperties</c>, and the
    /// <c>description</c> annotation into the essentials; <see cref="Parse"/> reads them back as the same labels.
    /// </summary>
    /// <param name="alert">The alert.</param>
    /// <returns>The notification.</returns>
    public static JsonObject Notification(Alert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var labels = alert.Labels;
        string? Label(string key) => labels.TryGetValue(key, out var v) ? v : null;
        static string Time(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var fromTarget = Label("target_resource") is { } target && ResourceId().Match(target) is { Success: true } m
            ? new Dictionary<string, string>(StringComparer.Ordinal) { ["subscription"] = m.Groups["subscription"].Value, ["resource_group"] = m.Groups["group"].Value }
            : [];
        string[] essential = ["alertname", "alert_rule", "severity", "signal_type", "monitoring_service", "target_resource", "resource"];
        var custom = new JsonObject();
        foreach (var (key, value) in labels.Where(kv => !essential.Contains(kv.Key, StringComparer.Ordinal)))
        {
            if (!(fromTarget.TryGetValue(key, out var derived) && derived == value))
            {
                custom[key] = value;
            }
        }

        var essentials = new JsonObject
        {
            ["alertId"] = alert.Fingerprint,
            ["alertRule"] = Label("alert_rule") ?? alert.Name,
            ["severity"] = Label("severity") ?? "Sev3",
            ["signalType"] = Label("signal_type") ?? "Metric",
            ["monitorCondition"] = alert.Firing ? "Fired" : "Resolved",
            ["monitoringService"] = Label("monitoring_service") ?? "Platform",
            ["alertTargetIDs"] = Label("target_resource") is { } t ? new JsonArray(t) : new JsonArray(),
            ["configurationItems"] = Label("resource") is { } r ? new JsonArray(r) : new JsonArray(),
            ["originAlertId"] = alert.Annotations.GetValueOrDefault("origin_alert_id") ?? alert.Fingerprint,
            ["firedDateTime"] = Time(alert.StartsAt ?? DateTimeOffset.UnixEpoch),
            ["description"] = alert.Annotations.GetValueOrDefault("description") ?? string.Empty,
            ["essentialsVersion"] = "1.0",
            ["alertContextVersion"] = "1.0",
        };
        if (!alert.Firing && alert.EndsAt is { } ended)
        {
            essentials["resolvedDateTime"] = Time(ended);
        }

        if (alert.GeneratorUrl is { } link)
        {
            essentials["investigationLink"] = link;
        }

        return new JsonObject
        {
            ["schemaId"] = "azureMonitorCommonAlertSchema",
            ["data"] = new JsonObject { ["essentials"] = essentials, ["alertContext"] = new JsonObject(), ["customProperties"] = custom },
        };
    }

    /// <summary>Reads the alert of a notification.</summary>
    /// <param name="payload">The parsed body.</param>
    /// <returns>The alert.</returns>
    /// <exception cref="AlertPayloadException">Not a common-schema notification; the message names the field.</exception>
    public static IReadOnlyList<Alert> Parse(JsonNode? payload)
    {
        if (payload is not JsonObject root)
        {
            throw new AlertPayloadException("an Azure Monitor notification is a JSON object with 'schemaId' and 'data'");
        }

        var schema = AlertmanagerPayload.Text(root["schemaId"]);
        if (schema != "azureMonitorCommonAlertSchema")
        {
            throw new AlertPayloadException($"schemaId '{schema}' is not supported: enable the common alert schema on the action group's webhook (schemaId azureMonitorCommonAlertSchema)");
        }

        if (root["data"]?["essentials"] is not JsonObject essentials)
        {
            throw new AlertPayloadException("data.essentials is missing");
        }

        var id = AlertmanagerPayload.Text(essentials["alertId"]) is { Length: > 0 } a ? a : throw new AlertPayloadException("data.essentials.alertId is missing");
        var rule = AlertmanagerPayload.Text(essentials["alertRule"]) is { Length: > 0 } r ? r : throw new AlertPayloadException("data.essentials.alertRule is missing");
        var status = AlertmanagerPayload.Text(essentials["monitorCondition"]) switch
        {
            "Fired" => "firing",
            "Resolved" => "resolved",
            var other => throw new AlertPayloadException($"data.essentials.monitorCondition must be Fired or Resolved, not '{other}'"),
        };

        var labels = new Dictionary<string, string>(StringComparer.Ordinal) { ["alertname"] = rule, ["alert_rule"] = rule };
        AlertmanagerPayload.Put(labels, "severity", essentials["severity"]);
        AlertmanagerPayload.Put(labels, "signal_type", essentials["signalType"]);
        AlertmanagerPayload.Put(labels, "monitoring_service", essentials["monitoringService"]);
        if (essentials["alertTargetIDs"] is JsonArray { Count: > 0 } targets && AlertmanagerPayload.Text(targets[0]) is { Length: > 0 } target)
        {
            labels["target_resource"] = target;
            var parts = ResourceId().Match(target);
            if (parts.Success)
            {
                labels["subscription"] = parts.Groups["subscription"].Value;
                labels["resource_group"] = parts.Groups["group"].Value;
            }
        }

        if (essentials["configurationItems"] is JsonArray { Count: > 0 } items)
        {
            AlertmanagerPayload.Put(labels, "resource", items[0]);
        }

        if (root["data"]?["customProperties"] is JsonObject custom)
        {
            foreach (var (key, value) in custom)
            {
                AlertmanagerPayload.Put(labels, key, value);
            }
        }

        var annotations = new Dictionary<string, string>(StringComparer.Ordinal) { ["alert_id"] = id };
        AlertmanagerPayload.Put(annotations, "description", essentials["description"]);
        AlertmanagerPayload.Put(annotations, "origin_alert_id", essentials["originAlertId"]);
        return
        [
            new Alert(
                Source,
                status,
                id,
                labels,
                annotations,
                AlertmanagerPayload.Time(essentials["firedDateTime"], "data.essentials.firedDateTime"),
                AlertmanagerPayload.Time(essentials["resolvedDateTime"], "data.essentials.resolvedDateTime"),
                AlertmanagerPayload.Text(essentials["investigationLink"])),
        ];
    }


    [GeneratedRegex("^/subscriptions/(?<subscription>[^/]+)/resourcegroups/(?<group>[^/]+)/", RegexOptions.IgnoreCase)]
    private static partial Regex ResourceId();
}
