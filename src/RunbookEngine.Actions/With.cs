using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunbookEngine.Actions;

/// <summary>Typed reads of an action's <c>with:</c> values (already validated by type when the runbook was checked).</summary>
internal static class With
{
    public static string? String(JsonObject with, string key) => with[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        var other => other.ToJsonString(),
    };

    public static string RequiredString(JsonObject with, string key, string action) =>
        String(with, key) is { Length: > 0 } s ? s : throw new Workflows.StepException("InvalidInput", $"{action}: '{key}' is required", nonRetryable: true);

    /// <summary>Reads a positive duration (<c>90s</c>, <c>5m</c>), or the default when the key is absent.</summary>
    public static TimeSpan Duration(JsonObject with, string key, TimeSpan fallback, string action) => String(with, key) is not { } text
        ? fallback
        : Workflows.Durations.TryParse(text, out var t) && t > TimeSpan.Zero
            ? t
            : throw new Workflows.StepException("InvalidInput", $"{action}: '{key}' must be a duration such as 90s or {Workflows.Durations.Format(fallback)}, got '{text}'", nonRetryable: true);

    public static IReadOnlyList<string>? StringList(JsonObject with, string key) => with[key] switch
    {
        null => null,
        JsonArray a => a.Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : n?.ToJsonString() ?? string.Empty).ToList(),
        var other => [String(with, key) ?? other.ToJsonString()],
    };

    public static IReadOnlyDictionary<string, string> Map(JsonObject with, string key) => with[key] is JsonObject o
        ? o.ToDictionary(kv => kv.Key, kv => kv.Value is JsonValue v && v.TryGetValue<string>(out var s) ? s : kv.Value?.ToJsonString() ?? string.Empty, StringComparer.Ordinal)
        : new Dictionary<string, string>(StringComparer.Ordinal);

    public static IReadOnlyList<int>? IntList(JsonObject with, string key) => with[key] switch
    {
        null => null,
        JsonArray a => a.Select(n => (int)Number(n, key)).ToList(),
        var one => [(int)Number(one, key)],
    };

    /// <summary>Reads a number whatever backs the node (parsed JSON, or a double, long or int set in code).</summary>
    public static double Number(JsonNode? node, string key)
    {
        if (node is JsonValue v)
        {
            if (v.TryGetValue<double>(out var d))
            {
                return d;
            }

            if (v.TryGetValue<long>(out var l))
            {
                return l;
            }

            if (v.TryGetValue<int>(out var i))
            {
                return i;
            }

            if (v.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
            {
                return parsed;
            }
        }

        throw new Workflows.StepException("InvalidInput", $"'{key}' must be a number, got {node?.ToJsonString() ?? "nothing"}", nonRetryable: true);
    }

    public static string Quote(IEnumerable<string> argv) =>
        string.Join(' ', argv.Select(a => a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_./=:,%@+".Contains(c, StringComparison.Ordinal)) ? a : "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));

    public static JsonObject Object(params (string Key, JsonNode? Value)[] fields) =>
        new(fields.Select(f => KeyValuePair.Create(f.Key, f.Value)));

    public static JsonNode? TryParseJson(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
