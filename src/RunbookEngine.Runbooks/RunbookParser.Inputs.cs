using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RunbookEngine.Runbooks.Model;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Runbooks;

/// <content>The inputs section.</content>
public sealed partial class RunbookParser
{
    private List<RunbookInput> ParseInputs(YamlNode node)
    {
        var list = new List<RunbookInput>();
        foreach (var (name, value, keyNode) in Entries(node, "inputs"))
        {
            if (!IdPattern().IsMatch(name))
            {
                Error(keyNode, $"input name '{name}' must start with a letter and use letters, digits, '_' or '-'");
            }

            if (value is not YamlMappingNode m)
            {
                Error(value, $"input '{name}' must be a mapping, e.g. {{ type: string, required: true }}");
                continue;
            }

            var keys = Keys(m, InputKeys, $"input '{name}'");
            var type = InputType.String;
            var typeKnown = true;
            if (keys.TryGetValue("type", out var t))
            {
                var typeName = RequireString(t, "type");
                if (typeName is not null && !Enum.TryParse(typeName, ignoreCase: true, out type) || typeName is not null && typeName != typeName.ToLowerInvariant())
                {
                    Error(t, $"input '{name}': unknown type '{typeName}' (use string, number, boolean, enum or list){Hint(DidYouMean(typeName ?? string.Empty, ["string", "number", "boolean", "enum", "list"]))}");
                    type = InputType.String;
                    typeKnown = false;
                }
            }

            var required = keys.TryGetValue("required", out var r) && (RequireBool(r, "required") ?? false);
            var secret = keys.TryGetValue("secret", out var sec) && (RequireBool(sec, "secret") ?? false);
            if (secret && type != InputType.String)
            {
                Error(sec!, $"input '{name}': only string inputs can be secret");
            }

            string? pattern = null;
            if (keys.TryGetValue("pattern", out var p))
            {
                pattern = RequireString(p, "pattern");
                if (pattern is not null)
                {
                    try
                    {
                        _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
                    }
                    catch (ArgumentException ex)
                    {
                        Error(p, $"input '{name}': invalid pattern: {ex.Message}");
                    }
                }
            }

            List<string>? values = null;
            if (keys.TryGetValue("values", out var vs))
            {
                values = vs is YamlSequenceNode vseq && vseq.Children.All(c => c is YamlScalarNode)
                    ? vseq.Children.Select(c => ((YamlScalarNode)c).Value ?? string.Empty).ToList()
                    : null;
                if (values is null || values.Count == 0)
                {
                    Error(vs, $"input '{name}': 'values' must be a non-empty list of strings");
                }
            }

            if (type == InputType.Enum && values is null && !keys.ContainsKey("values"))
            {
                Error(m, $"input '{name}' of type enum needs 'values'");
            }

            JsonNode? defaultValue = null;
            if (keys.TryGetValue("default", out var dflt))
            {
                defaultValue = ScalarOrTree(dflt);
                if (typeKnown && InputBinder.Check(name, type, pattern, values, defaultValue) is { } problem)
                {
                    Error(dflt, $"default of {problem}");
                }

                if (secret)
                {
                    Error(dflt, $"input '{name}': a secret cannot have a default (it would be stored in the runbook)");
                }
            }

            var description = keys.TryGetValue("description", out var d) ? RequireString(d, "description") : null;
            list.Add(new RunbookInput(name, type, required && defaultValue is null, defaultValue, pattern, values, secret, description, Loc(keyNode)));
        }

        return list;
    }
}
