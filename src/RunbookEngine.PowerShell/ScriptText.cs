using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using PSJson = Microsoft.PowerShell.Commands.JsonObject;

namespace RunbookEngine.PowerShell;

/// <summary>What the engine reads from a script's text with PowerShell's own parser, and the values it passes across.</summary>
internal static class ScriptText
{
    /// <summary>The deepest an output object is converted (deeper values become their string form, as ConvertTo-Json does).</summary>
    private const int OutputDepth = 4;

    /// <summary>The syntax errors PowerShell's parser finds, at the script's lines and columns.</summary>
    public static IReadOnlyList<InputProblem> SyntaxErrors(string script)
    {
        Parser.ParseInput(script, out _, out var errors);
        return [.. errors.Select(e => new InputProblem(e.Extent.StartLineNumber, e.Extent.StartColumnNumber, $"PowerShell syntax error: {e.Message}"))];
    }

    /// <summary>
    /// Whether the script declares <c>[CmdletBinding(SupportsShouldProcess)]</c>: only then does -WhatIf reach what
    /// it does (the cmdlets it calls, and its own <c>$PSCmdlet.ShouldProcess</c> checks), so that a plan can show it.
    /// </summary>
    public static bool SupportsShouldProcess(string script)
    {
        var ast = Parser.ParseInput(script, out _, out var errors);
        if (errors.Length > 0 || ast.ParamBlock is not { } param)
        {
            return false;
        }

        return param.Attributes.Any(a =>
            a.TypeName.GetReflectionAttributeType() == typeof(CmdletBindingAttribute)
            && a.NamedArguments.Any(n => n.ArgumentName.Equals("SupportsShouldProcess", StringComparison.OrdinalIgnoreCase) && (n.ExpressionOmitted || IsTrue(n.Argument))));
    }

    /// <summary>The parameters every advanced script (one with [CmdletBinding()]) takes.</summary>
    public static readonly IReadOnlySet<string> CommonParameters = new HashSet<string>(
        ["Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "ErrorVariable", "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable", "WhatIf", "Confirm"],
        StringComparer.OrdinalIgnoreCase);

    /// <summary>The parameter names a script declares (with the common ones when it is an advanced script), any case.</summary>
    public static IReadOnlySet<string> DeclaredParameters(string script)
    {
        var ast = Parser.ParseInput(script, out _, out _);
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (ast.ParamBlock is not { } param)
        {
            return names;
        }

        names.UnionWith(param.Parameters.Select(p => p.Name.VariablePath.UserPath));
        if (param.Attributes.Any(a => a.TypeName.GetReflectionAttributeType() == typeof(CmdletBindingAttribute)) || param.Parameters.Any(p => p.Attributes.Any(a => a.TypeName.GetReflectionAttributeType() == typeof(ParameterAttribute))))
        {
            names.UnionWith(CommonParameters);
        }

        return names;
    }

    /// <summary>A JSON input as the PowerShell value a typed parameter binds from (a mapping becomes a hashtable).</summary>
    public static object? ToPowerShell(JsonNode? node) => node switch
    {
        null => null,
        JsonArray a => a.Select(ToPowerShell).ToArray(),
        JsonObject o => ToHashtable(o),
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<long>(out var l) => l,
        JsonValue v when v.TryGetValue<int>(out var i) => (long)i,
        JsonValue v when v.TryGetValue<double>(out var d) => d == Math.Floor(d) && Math.Abs(d) < 1e15 ? (long)d : d,
        var other => other.ToJsonString(),
    };

    /// <summary>An object the script wrote, as JSON, the way ConvertTo-Json writes it (enums as their names).</summary>
    public static JsonNode? ToJson(PSObject? value)
    {
        if (value is null)
        {
            return null;
        }

        var context = new PSJson.ConvertToJsonContext(OutputDepth, enumsAsStrings: true, compressOutput: true);
        return JsonNode.Parse(PSJson.ConvertToJson(value, in context) ?? "null");
    }

    private static Hashtable ToHashtable(JsonObject o)
    {
        var table = new Hashtable(StringComparer.OrdinalIgnoreCase);
        foreach (var (k, v) in o)
        {
            table[k] = ToPowerShell(v);
        }

        return table;
    }

    private static bool IsTrue(ExpressionAst argument) => argument switch
    {
        VariableExpressionAst v => v.VariablePath.UserPath.Equals("true", StringComparison.OrdinalIgnoreCase),
        ConstantExpressionAst c => c.Value is true or 1,
        _ => false,
    };
}
