using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunbookEngine.Runbooks.Expressions;

/// <summary>Converts between JSON and expression values.</summary>
public static class RunbookValues
{
    /// <summary>Converts a JSON element to an expression value.</summary>
    /// <param name="e">The element.</param>
    /// <returns>The value.</returns>
    public static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => FromJson(p.Value), StringComparer.Ordinal),
        _ => null,
    };

    /// <summary>Converts a JSON node to an expression value.</summary>
    /// <param name="node">The node.</param>
    /// <returns>The value.</returns>
    public static object? FromJson(JsonNode? node) => node is null ? null : FromJson(JsonSerializer.SerializeToElement(node));

    /// <summary>Converts an expression value to JSON; unknown becomes the string <c>&lt;unknown&gt;</c>.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The node.</returns>
    public static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        bool b => JsonValue.Create(b),
        double d when d == Math.Floor(d) && Math.Abs(d) < 1e15 => JsonValue.Create((long)d),
        double d => JsonValue.Create(d),
        string s => JsonValue.Create(s),
        Unknown => JsonValue.Create("<unknown>"),
        List<object?> l => new JsonArray([.. l.Select(ToJson)]),
        Dictionary<string, object?> m => new JsonObject(m.Select(kv => KeyValuePair.Create(kv.Key, ToJson(kv.Value)))),
        int i => JsonValue.Create(i),
        long n => JsonValue.Create(n),
        _ => JsonValue.Create(Convert.ToString(value, CultureInfo.InvariantCulture)),
    };
}
