using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace RunbookEngine.Alerts;

/// <summary>One alert from any source, normalized.</summary>
/// <param name="Source">alertmanager, grafana, pagerduty, azure-monitor, or a generic source's name.</param>
/// <param name="Status">firing or resolved.</param>
/// <param name="Fingerprint">Identifies the alert across notifications (the source's own, else a hash of its labels).</param>
/// <param name="Labels">Its labels.</param>
/// <param name="Annotations">Its annotations.</param>
/// <param name="StartsAt">When it started firing (the same for every notification of one firing episode).</param>
/// <param name="EndsAt">When it resolved, if it did.</param>
/// <param name="GeneratorUrl">A link to where it came from.</param>
public sealed record Alert(
    string Source,
    string Status,
    string Fingerprint,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations,
    DateTimeOffset? StartsAt,
    DateTimeOffset? EndsAt,
    string? GeneratorUrl)
{
    /// <summary>Gets a value indicating whether the alert fires (else it resolved).</summary>
    public bool Firing => Status == "firing";

    /// <summary>Gets its name: the <c>alertname</c> label, else its fingerprint.</summary>
    public string Name => Labels.GetValueOrDefault("alertname") is { Length: > 0 } n ? n : Fingerprint;

    /// <summary>Gets the key of one firing episode: repeated notifications share it, a new episode does not.</summary>
    public string Episode => $"{Fingerprint}@{StartsAt?.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture) ?? "-"}";

    /// <summary>A fingerprint from labels, for sources that have none: stable for the same label set.</summary>
    /// <param name="labels">The labels.</param>
    /// <returns>16 hex digits.</returns>
    public static string FingerprintOf(IReadOnlyDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var text = string.Join('\n', labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
    }

    /// <summary>The alert as expression values for a trigger's <c>inputs:</c> (<c>alert.labels.instance</c>).</summary>
    /// <returns>The values.</returns>
    public IReadOnlyDictionary<string, object?> ToExpressionValues() => new Dictionary<string, object?>(StringComparer.Ordinal)
    {
        ["labels"] = Labels.ToDictionary(l => l.Key, l => (object?)l.Value, StringComparer.Ordinal),
        ["annotations"] = Annotations.ToDictionary(l => l.Key, l => (object?)l.Value, StringComparer.Ordinal),
        ["status"] = Status,
        ["fingerprint"] = Fingerprint,
        ["source"] = Source,
        ["starts_at"] = StartsAt?.ToString("O", CultureInfo.InvariantCulture),
        ["ends_at"] = EndsAt?.ToString("O", CultureInfo.InvariantCulture),
        ["generator_url"] = GeneratorUrl,
    };

    /// <summary>The alert as JSON, for the timeline.</summary>
    /// <returns>The JSON.</returns>
    public JsonObject ToJson() => new()
    {
        ["source"] = Source,
        ["status"] = Status,
        ["fingerprint"] = Fingerprint,
        ["labels"] = new JsonObject(Labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)JsonValue.Create(l.Value)))),
        ["annotations"] = new JsonObject(Annotations.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)JsonValue.Create(l.Value)))),
        ["starts_at"] = StartsAt,
        ["ends_at"] = EndsAt,
        ["generator_url"] = GeneratorUrl,
    };
}

/// <summary>A payload that is not what its source sends; the message names the field.</summary>
public sealed class AlertPayloadException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="AlertPayloadException"/> class.</summary>
    public AlertPayloadException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="AlertPayloadException"/> class.</summary>
    /// <param name="message">What is wrong.</param>
    public AlertPayloadException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="AlertPayloadException"/> class.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The cause.</param>
    public AlertPayloadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
