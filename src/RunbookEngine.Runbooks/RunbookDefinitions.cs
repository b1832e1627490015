using System.Text.Json;
using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks;

/// <summary>
/// The content of a runbook's pinned definition: a JSON envelope of format, file and source text. Its hash pins
/// the exact text a run started with; the file name keeps runtime messages at <c>file:line:col</c>.
/// </summary>
public static class RunbookDefinitions
{
    /// <summary>The format of YAML runbooks.</summary>
    public const string YamlFormat = "runbook-yaml/1";

    /// <summary>Builds the definition of a runbook.</summary>
    /// <param name="runbook">The runbook.</param>
    /// <returns>The definition to start runs with.</returns>
    public static WorkflowDefinition ToDefinition(Runbook runbook)
    {
        ArgumentNullException.ThrowIfNull(runbook);
        var envelope = new JsonObject { ["format"] = YamlFormat, ["file"] = runbook.File, ["source"] = runbook.Source };
        return new WorkflowDefinition(runbook.Name, envelope.ToJsonString());
    }

    /// <summary>Reads a definition's envelope.</summary>
    /// <param name="definition">The stored definition.</param>
    /// <returns>The format, file and source, or null when it is not a runbook.</returns>
    public static (string Format, string File, string Source)? Read(WorkflowDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        try
        {
            var o = JsonNode.Parse(definition.Content) as JsonObject;
            if (o?["format"]?.GetValue<string>() is { } format && o["file"]?.GetValue<string>() is { } file && o["source"]?.GetValue<string>() is { } source)
            {
                return (format, file, source);
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }

        return null;
    }
}
