using System.Text.Json;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Scripting;
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
        var format = runbook.Language == RunbookLanguage.Script ? ScriptRunbooks.Format : YamlFormat;
        var envelope = new JsonObject { ["format"] = format, ["file"] = runbook.File, ["source"] = runbook.Source };
        if (runbook.Files.Count > 0)
        {
            // Only when there are any: the definition (and its hash) of a runbook without file inputs stays as it was.
            envelope["files"] = new JsonObject(runbook.Files.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => KeyValuePair.Create(f.Key, (JsonNode?)f.Value)));
        }

        return new WorkflowDefinition(runbook.Name, envelope.ToJsonString());
    }

    /// <summary>Parses the runbook a definition pins (without compiling a script: its metadata is enough to describe it).</summary>
    /// <param name="actions">The actions.</param>
    /// <param name="definition">The stored definition.</param>
    /// <returns>The runbook and its problems, or null when the definition is not a runbook.</returns>
    public static (Runbook? Runbook, IReadOnlyList<RunbookDiagnostic> Problems)? Parse(ActionCatalog actions, WorkflowDefinition definition) =>
        Read(definition) switch
        {
            { Format: YamlFormat } e => new RunbookParser(actions).Parse(e.File, e.Source, PinnedFiles(definition)),
            { Format: ScriptRunbooks.Format } e => ScriptRunbooks.Parse(actions, e.File, e.Source, compile: false),
            _ => null,
        };

    /// <summary>The files a definition pins (an empty set for one that pins none: nothing is read from disk).</summary>
    private static Dictionary<string, string> PinnedFiles(WorkflowDefinition definition)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        if (JsonNode.Parse(definition.Content)?["files"] is JsonObject pinned)
        {
            foreach (var (path, text) in pinned)
            {
                if (text is JsonValue v && v.TryGetValue<string>(out var content))
                {
                    files[path] = content;
                }
            }
        }

        return files;
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
