using System.Text.Json;

namespace RunbookEngine.Workflows.Execution;

/// <summary>Builds the JSON data of timeline events.</summary>
internal static class EventData
{
    public static string Of(params (string Key, object? Value)[] fields)
    {
        var dict = new Dictionary<string, object?>(fields.Length, StringComparer.Ordinal);
        foreach (var (key, value) in fields)
        {
            if (value is not null)
            {
                dict[key] = value;
            }
        }

        return JsonSerializer.Serialize(dict, WorkflowJson.Options);
    }
}
