using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunbookEngine.Workflows;

/// <summary>The JSON conventions of stored inputs, outputs and timeline data.</summary>
public static class WorkflowJson
{
    /// <summary>Gets the serializer options used for every stored payload (web defaults: camelCase, case-insensitive read).</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web);

    /// <summary>Serializes a value to compact JSON text, or null.</summary>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="value">The value.</param>
    /// <returns>JSON text or <see langword="null"/>.</returns>
    public static string? Serialize<T>(T value) => value is null ? null : JsonSerializer.Serialize(value, Options);

    /// <summary>Parses stored JSON text into a node.</summary>
    /// <param name="json">The text, possibly null.</param>
    /// <returns>The node or <see langword="null"/>.</returns>
    public static JsonNode? Parse(string? json) => json is null ? null : JsonNode.Parse(json);

    /// <summary>Deserializes stored JSON text.</summary>
    /// <typeparam name="T">The target type.</typeparam>
    /// <param name="json">The text, possibly null.</param>
    /// <returns>The value or default.</returns>
    public static T? Deserialize<T>(string? json) => json is null ? default : JsonSerializer.Deserialize<T>(json, Options);
}
