using System.Text.Json;

namespace RunbookEngine.Workflows.Storage;

/// <summary>Builds the JSON data of timeline events, for the kernel and for store providers alike.</summary>
public static class TimelineData
{
    /// <summary>Serializes the fields whose value is not null into a JSON object, keys as given.</summary>
    /// <param name="fields">Key and value pairs.</param>
    /// <returns>JSON object text.</returns>
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
