using System.Globalization;
using System.Text.Json.Nodes;

namespace RunbookEngine.Alerts;

/// <summary>
/// Where a generic JSON webhook's alerts and their fields are in its body: dotted paths (<c>check.host</c>,
/// <c>items.0.id</c>) relative to each alert. Declared per source in the server configuration.
/// </summary>
/// <param name="Alerts">The path from the body to the list of alerts, or null when the body is one alert.</param>
/// <param name="Name">The path of the alert's name (the <c>alertname</c> label), or null.</param>
/// <param name="Status">The path of its status, or null when every alert fires.</param>
/// <param name="Firing">The status values that mean firing; any other value means resolved.</param>
/// <param name="Fingerprint">The path of its identity across notifications, or null for a hash of its labels.</param>
/// <param name="StartsAt">The path of when it started (ISO 8601): a new value is a new firing episode, hence a new run.</param>
/// <param name="Labels">Label name to path; a label whose path is missing is left out.</param>
/// <param name="LabelsFrom">The path of an object whose values all become labels, or null.</param>
/// <param name="Annotations">Annotation name to path.</param>
public sealed record GenericMapping(
    string? Alerts,
    string? Name,
    string? Status,
    IReadOnlyList<string> Firing,
    string? Fingerprint,
    string? StartsAt,
    IReadOnlyDictionary<string, string> Labels,
    string? LabelsFrom,
    IReadOnlyDictionary<string, string> Annotations);

/// <summary>A generic JSON webhook: any body, read through the source's <see cref="GenericMapping"/>.</summary>
public static class GenericPayload
{
    /// <summary>Whether a path is well formed: dot-separated non-empty names or indexes.</summary>
    /// <param name="path">The path.</param>
    /// <returns>Whether it is.</returns>
    public static bool IsPath(string? path) => path is { Length: > 0 } && path.Split('.').All(p => p.Length > 0);

    /// <summary>Reads the alerts of a delivery.</summary>
    /// <param name="payload">The parsed body.</param>
    /// <param name="source">The source's name (what triggers give as <c>source:</c>).</param>
    /// <param name="mapping">Where the fields are.</param>
    /// <returns>The alerts.</returns>
    /// <exception cref="AlertPayloadException">The body does not have what the mapping says; the message names the path.</exception>
    public static IReadOnlyList<Alert> Parse(JsonNode? payload, string source, GenericMapping mapping)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        if (payload is not JsonObject and not JsonArray)
        {
            throw new AlertPayloadException($"a '{source}' delivery is a JSON object or list");
        }

        IEnumerable<(JsonNode? Node, string At)> items;
        if (mapping.Alerts is null)
        {
            items = [(payload, "the body")];
        }
        else if (Find(payload, mapping.Alerts) is JsonArray list)
        {
            items = list.Select((n, i) => (n, $"{mapping.Alerts}.{i}"));
        }
        else
        {
            throw new AlertPayloadException($"'{mapping.Alerts}' (the source's alerts path) must be a list in the body");
        }

        var result = new List<Alert>();
        foreach (var (node, at) in items)
        {
            if (node is not JsonObject)
            {
                throw new AlertPayloadException($"{at} must be an object");
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (mapping.LabelsFrom is { } from)
            {
                if (Find(node, from) is JsonObject all)
                {
                    foreach (var (key, value) in all)
                    {
                        AlertmanagerPayload.Put(labels, key, value is JsonValue ? value : null);
                    }
                }
                else if (Find(node, from) is not null)
                {
                    throw new AlertPayloadException($"{at}: '{from}' (labels) must be an object");
                }
            }

            foreach (var (label, path) in mapping.Labels)
            {
                AlertmanagerPayload.Put(labels, label, Find(node, path));
            }

            if (mapping.Name is { } namePath)
            {
                AlertmanagerPayload.Put(labels, "alertname", Find(node, namePath) ?? throw new AlertPayloadException($"{at}: '{namePath}' (the alert's name) is missing"));
            }

            var annotations = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (annotation, path) in mapping.Annotations)
            {
                AlertmanagerPayload.Put(annotations, annotation, Find(node, path));
            }

            var status = "firing";
            if (mapping.Status is { } statusPath)
            {
                var value = AlertmanagerPayload.Text(Find(node, statusPath)) ?? throw new AlertPayloadException($"{at}: '{statusPath}' (the alert's status) is missing");
                status = mapping.Firing.Contains(value, StringComparer.OrdinalIgnoreCase) ? "firing" : "resolved";
            }

            var fingerprint = mapping.Fingerprint is { } fp
                ? AlertmanagerPayload.Text(Find(node, fp)) is { Length: > 0 } f ? f : throw new AlertPayloadException($"{at}: '{fp}' (the alert's fingerprint) is missing")
                : Alert.FingerprintOf(labels);
            DateTimeOffset? startsAt = null;
            if (mapping.StartsAt is { } sp && AlertmanagerPayload.Text(Find(node, sp)) is { Length: > 0 } started)
            {
                startsAt = DateTimeOffset.TryParse(started, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
                    ? t
                    : throw new AlertPayloadException($"{at}: '{sp}' is '{started}', not a time like 2026-11-21T03:00:00Z");
            }

            result.Add(new Alert(source, status, fingerprint, labels, annotations, startsAt, null, null));
        }

        return result;
    }

    /// <summary>The node at a dotted path, or null when any part is missing.</summary>
    private static JsonNode? Find(JsonNode? node, string path)
    {
        foreach (var part in path.Split('.'))
        {
            node = node switch
            {
                JsonObject o => o[part],
                JsonArray a when int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < a.Count => a[i],
                _ => null,
            };
            if (node is null)
            {
                return null;
            }
        }

        return node;
    }
}
