using System.Text.Json;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks;

namespace RunbookEngine.Scripting;

/// <summary>Checks a script's action inputs against the action's declared parameters before the step is recorded.</summary>
internal static class ActionInputs
{
    public static string? Problem(IRunbookAction action, JsonObject with)
    {
        foreach (var (key, value) in with)
        {
            var p = action.Parameters.FirstOrDefault(x => x.Name == key);
            if (p is null)
            {
                var hint = RunbookParser.DidYouMean(key, action.Parameters.Select(x => x.Name)) is { } s ? $" (did you mean '{s}'?)" : string.Empty;
                return $"action '{action.Name}' has no input '{key}'{hint}; it takes {string.Join(", ", action.Parameters.Select(x => x.Name))}";
            }

            if (p.Type == ParameterType.File)
            {
                return $"input '{key}' of action '{action.Name}' names a file beside a YAML runbook, read and pinned when that runbook is loaded; a C# script runbook passes the text itself" + (action.Parameters.FirstOrDefault(x => x.Verbatim) is { } verbatim ? $" as '{verbatim.Name}'" : string.Empty);
            }

            if (value is not null && !Fits(p.Type, value))
            {
                return $"input '{key}' of action '{action.Name}' must be {RunbookParser.Describe(p.Type)}";
            }

            if (p.AllowedValues is { } allowed && value is JsonValue v && v.TryGetValue<string>(out var text) && !allowed.Contains(text, StringComparer.OrdinalIgnoreCase))
            {
                return $"input '{key}' of action '{action.Name}' must be one of {string.Join(", ", allowed)} (got '{text}')";
            }
        }

        var missing = action.Parameters.FirstOrDefault(p => p.Required && with[p.Name] is null);
        return missing is not null ? $"action '{action.Name}' needs '{missing.Name}' ({missing.Description})"
            : action.CheckKeys([.. with.Where(kv => kv.Value is not null).Select(kv => kv.Key)]) is { } combination ? $"action '{action.Name}': {combination}"
            : null;
    }

    private static bool Fits(ParameterType type, JsonNode value) => (type, value.GetValueKind()) switch
    {
        (ParameterType.String, JsonValueKind.String or JsonValueKind.Number) => true,
        (ParameterType.Number, JsonValueKind.Number) => true,
        (ParameterType.Boolean, JsonValueKind.True or JsonValueKind.False) => true,
        (ParameterType.List, JsonValueKind.Array) => true,
        (ParameterType.Map, JsonValueKind.Object) => true,
        (ParameterType.StringOrList, JsonValueKind.String or JsonValueKind.Array) => true,
        (ParameterType.StringOrMap, JsonValueKind.String or JsonValueKind.Object or JsonValueKind.Array) => true,
        (ParameterType.NumberOrList, JsonValueKind.Number or JsonValueKind.Array) => true,
        _ => false,
    };
}
