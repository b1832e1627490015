using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Runbooks;

/// <summary>Turns the inputs given to a run (<c>-p key=value</c> or JSON) into typed values, checked against the declarations.</summary>
public static class InputBinder
{
    /// <summary>Binds inputs given as text, as on the command line.</summary>
    /// <param name="runbook">The runbook.</param>
    /// <param name="given">Name to text.</param>
    /// <returns>The typed inputs (defaults applied), or the problems.</returns>
    public static (JsonObject Inputs, IReadOnlyList<RunbookDiagnostic> Problems) BindText(Runbook runbook, IReadOnlyDictionary<string, string> given)
    {
        ArgumentNullException.ThrowIfNull(runbook);
        ArgumentNullException.ThrowIfNull(given);
        var typed = new JsonObject();
        var problems = new List<RunbookDiagnostic>();
        foreach (var (name, text) in given)
        {
            var input = runbook.Inputs.FirstOrDefault(i => i.Name == name);
            if (input is null)
            {
                continue; // reported by Bind
            }

            typed[name] = Convert(input, text, out var problem);
            if (problem is not null)
            {
                problems.Add(new(input.Location, problem));
            }
        }

        foreach (var extra in given.Keys.Where(k => runbook.Inputs.All(i => i.Name != k)))
        {
            typed[extra] = given[extra];
        }

        var (bound, more) = Bind(runbook, typed);
        return (bound, [.. problems, .. more.Where(m => problems.All(p => p.Location != m.Location))]);
    }

    /// <summary>Binds inputs given as JSON values.</summary>
    /// <param name="runbook">The runbook.</param>
    /// <param name="given">The values.</param>
    /// <returns>The typed inputs (defaults applied), or the problems.</returns>
    public static (JsonObject Inputs, IReadOnlyList<RunbookDiagnostic> Problems) Bind(Runbook runbook, JsonObject given)
    {
        ArgumentNullException.ThrowIfNull(runbook);
        ArgumentNullException.ThrowIfNull(given);
        var result = new JsonObject();
        var problems = new List<RunbookDiagnostic>();
        var top = new SourceLocation(runbook.File, 1, 1);
        foreach (var (name, _) in given)
        {
            if (runbook.Inputs.All(i => i.Name != name))
            {
                var known = runbook.Inputs.Select(i => i.Name).ToList();
                var hint = RunbookParser.DidYouMean(name, known) is { } s ? $" (did you mean '{s}'?)" : string.Empty;
                problems.Add(new(top, $"runbook '{runbook.Name}' has no input '{name}'{hint}" + (known.Count == 0 ? "; it takes no inputs" : $"; its inputs: {string.Join(", ", known)}")));
            }
        }

        foreach (var input in runbook.Inputs)
        {
            var value = given.TryGetPropertyValue(input.Name, out var v) ? v?.DeepClone() : input.Default?.DeepClone();
            if (value is null)
            {
                if (input.Required)
                {
                    problems.Add(new(input.Location, $"missing required input '{input.Name}'" + (input.Description is null ? string.Empty : $" ({input.Description})") + $": pass it with -p {input.Name}=..."));
                }

                continue;
            }

            if (Check(input.Name, input.Type, input.Pattern, input.Values, value) is { } problem)
            {
                problems.Add(new(input.Location, problem));
                continue;
            }

            if (input.Secret && (value is not JsonValue sv || !sv.TryGetValue<string>(out var text) || !Secrets.IsReference(text)))
            {
                problems.Add(new(input.Location, $"input '{input.Name}' is secret: pass a reference such as secret://env/NAME or secret://file/PATH; a literal value would be stored with the run"));
                continue;
            }

            if (input.Secret && Secrets.CheckReference(value.GetValue<string>()) is { } bad)
            {
                problems.Add(new(input.Location, $"input '{input.Name}': {bad}"));
                continue;
            }

            result[input.Name] = value;
        }

        return (result, problems);
    }

    /// <summary>Checks a value against an input declaration.</summary>
    /// <param name="name">The input name.</param>
    /// <param name="type">Its type.</param>
    /// <param name="pattern">Its pattern.</param>
    /// <param name="values">Its allowed values.</param>
    /// <param name="value">The value.</param>
    /// <returns>Null when valid, else the problem.</returns>
    public static string? Check(string name, InputType type, string? pattern, IReadOnlyList<string>? values, JsonNode? value)
    {
        ArgumentNullException.ThrowIfNull(name);
        switch (type)
        {
            case InputType.Number when value is not JsonValue n || !n.TryGetValue<double>(out _):
                return $"input '{name}': expected a number, got {Describe(value)}";
            case InputType.Boolean when value is not JsonValue b || !b.TryGetValue<bool>(out _):
                return $"input '{name}': expected true or false, got {Describe(value)}";
            case InputType.List when value is not JsonArray:
                return $"input '{name}': expected a list, got {Describe(value)}";
            case InputType.String or InputType.Enum when value is not JsonValue s || !s.TryGetValue<string>(out _):
                return $"input '{name}': expected a string, got {Describe(value)}";
        }

        if (type == InputType.Enum && values is not null && !values.Contains(value!.GetValue<string>(), StringComparer.Ordinal))
        {
            return $"input '{name}': '{value.GetValue<string>()}' is not one of {string.Join(", ", values)}";
        }

        if (pattern is not null && value is JsonValue pv && pv.TryGetValue<string>(out var str))
        {
            try
            {
                if (!Regex.IsMatch(str, pattern, RegexOptions.None, TimeSpan.FromSeconds(1)))
                {
                    return $"input '{name}': '{str}' does not match the pattern {pattern}";
                }
            }
            catch (ArgumentException)
            {
                return null; // the pattern itself is reported by the parser
            }
        }

        return null;
    }

    private static JsonNode? Convert(RunbookInput input, string text, out string? problem)
    {
        problem = null;
        switch (input.Type)
        {
            case InputType.Number:
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
                {
                    return JsonValue.Create(d);
                }

                problem = $"input '{input.Name}': expected a number, got '{text}'";
                return null;
            case InputType.Boolean:
                if (text is "true" or "false")
                {
                    return JsonValue.Create(text == "true");
                }

                problem = $"input '{input.Name}': expected true or false, got '{text}'";
                return null;
            case InputType.List:
                return new JsonArray([.. text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(x => JsonValue.Create(x))]);
            default:
                return JsonValue.Create(text);
        }
    }

    private static string Describe(JsonNode? value) => value switch
    {
        null => "nothing",
        JsonArray => "a list",
        JsonObject => "a mapping",
        _ => $"'{value.ToJsonString().Trim('"')}'",
    };
}
