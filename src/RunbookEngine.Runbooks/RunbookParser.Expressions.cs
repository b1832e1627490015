using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Expressions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Yaml;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Runbooks;

/// <content>Expressions and templates in values.</content>
public sealed partial class RunbookParser
{
    private ExpressionTemplate? ParseCondition(YamlNode node, string? stepId, bool allowResult, string what)
    {
        if (node is YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" or "false" } b)
        {
            return new ExpressionTemplate(new LiteralExpr(b.Value == "true", 0), b.Value!, Loc(b));
        }

        if (node is not YamlScalarNode { Value: { } text } s)
        {
            Error(node, $"'{what}' must be an expression, e.g. \"${{{{ inputs.force }}}}\"");
            return null;
        }

        var t = ParseTemplate(s, stepId, allowResult);
        switch (t)
        {
            case ExpressionTemplate e:
                return e;
            case LiteralTemplate when text.Contains("${{", StringComparison.Ordinal):
                return null; // the broken ${{ }} was reported while parsing the template
            case LiteralTemplate:
                // A bare expression without ${{ }} is accepted, as in CI systems' `if:`.
                var start = ContentStart(s);
                try
                {
                    var expr = ExpressionParser.Parse(text);
                    sites.Add((expr, start, stepId, allowResult));
                    return new ExpressionTemplate(expr, text, start);
                }
                catch (ExpressionException ex)
                {
                    Error(start with { Column = start.Column + ex.Offset }, $"invalid expression in '{what}': {ex.Message}");
                    return null;
                }

            default:
                Error(node, $"'{what}' must be one expression, not text mixed with ${{{{ }}}}");
                return null;
        }
    }

    private Template ParseTemplate(YamlNode node, string? stepId, bool allowResult)
    {
        switch (node)
        {
            case YamlSequenceNode seq:
                return new ListTemplate(seq.Children.Select(c => ParseTemplate(c, stepId, allowResult)).ToList(), Loc(seq));
            case YamlMappingNode map:
                var entries = new List<(string, Template, SourceLocation)>();
                foreach (var (k, v) in map.Children)
                {
                    if (k is YamlScalarNode { Value: { } key })
                    {
                        entries.Add((key, ParseTemplate(v, stepId, allowResult), Loc(k)));
                    }
                    else
                    {
                        Error(k, "mapping keys must be plain names");
                    }
                }

                return new MapTemplate(entries, Loc(map));
            case YamlScalarNode s:
                var text = s.Value ?? string.Empty;
                if (!text.Contains("${{", StringComparison.Ordinal))
                {
                    return new LiteralTemplate(ScalarOrTree(s), Loc(s));
                }

                var start = ContentStart(s);
                var parts = new List<(string, Expr?)>();
                var i = 0;
                while (i < text.Length)
                {
                    var open = text.IndexOf("${{", i, StringComparison.Ordinal);
                    if (open < 0)
                    {
                        parts.Add((text[i..], null));
                        break;
                    }

                    if (open > i)
                    {
                        parts.Add((text[i..open], null));
                    }

                    var close = text.IndexOf("}}", open + 3, StringComparison.Ordinal);
                    var exprStart = start with { Column = start.Column + open + 3 };
                    if (close < 0)
                    {
                        Error(start with { Column = start.Column + open }, "'${{' is not closed with '}}'");
                        return new LiteralTemplate(JsonValue.Create(text), Loc(s));
                    }

                    var inner = text[(open + 3)..close];
                    try
                    {
                        var expr = ExpressionParser.Parse(inner);
                        sites.Add((expr, exprStart, stepId, allowResult));
                        parts.Add((text[open..(close + 2)], expr));
                    }
                    catch (ExpressionException ex)
                    {
                        Error(exprStart with { Column = exprStart.Column + ex.Offset }, $"invalid expression: {ex.Message}");
                        return new LiteralTemplate(JsonValue.Create(text), Loc(s));
                    }

                    i = close + 2;
                }

                if (parts.Count == 1 && parts[0].Item2 is { } only)
                {
                    var t = parts[0].Item1;
                    return new ExpressionTemplate(only, t, start);
                }

                return new InterpolatedTemplate(parts, start);
            default:
                Error(node, "unsupported YAML node (anchors and aliases are not supported in runbooks)");
                return new LiteralTemplate(null, Loc(node));
        }
    }

    /// <summary>Where a scalar's text starts: after the opening quote of a quoted single-line scalar.</summary>
    private SourceLocation ContentStart(YamlScalarNode s) =>
        s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted ? Loc(s) with { Column = (int)s.Start.Column + 1 } : Loc(s);

    private static JsonNode? ScalarOrTree(YamlNode node) => YamlFields.ScalarOrTree(node);
}
