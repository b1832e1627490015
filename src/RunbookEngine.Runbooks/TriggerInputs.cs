using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Expressions;
using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Runbooks;

/// <summary>Renders a trigger's <c>inputs:</c> against an alert.</summary>
public static class TriggerInputs
{
    /// <summary>The trigger's inputs for an alert, as JSON to bind to the runbook's declared inputs.</summary>
    /// <param name="trigger">The trigger.</param>
    /// <param name="alert">The alert as expression values: labels, annotations, status, fingerprint, source, starts_at, ends_at, generator_url.</param>
    /// <returns>The inputs, or the problem (file:line:col) that stopped them.</returns>
    public static (JsonObject? Inputs, string? Problem) Render(TriggerSpec trigger, IReadOnlyDictionary<string, object?> alert)
    {
        ArgumentNullException.ThrowIfNull(trigger);
        ArgumentNullException.ThrowIfNull(alert);
        var result = new JsonObject();
        try
        {
            foreach (var (name, template) in trigger.Inputs)
            {
                result[name] = Render(template, alert);
            }
        }
        catch (ExpressionException ex)
        {
            return (null, ex.Message);
        }

        return (result, null);
    }

    private static JsonNode? Render(Template template, IReadOnlyDictionary<string, object?> alert) => template switch
    {
        LiteralTemplate l => l.Value?.DeepClone(),
        ExpressionTemplate e => RunbookValues.ToJson(Eval(e.Expression, e.Location, alert)),
        InterpolatedTemplate i => JsonValue.Create(string.Concat(i.Parts.Select(p => p.Expression is null ? p.Text : ExpressionEvaluator.Stringify(Eval(p.Expression, i.Location, alert))))),
        ListTemplate list => new JsonArray([.. list.Items.Select(item => Render(item, alert))]),
        MapTemplate map => new JsonObject(map.Entries.Select(e => KeyValuePair.Create(e.Key, Render(e.Value, alert)))),
        _ => null,
    };

    private static object? Eval(Expr expr, SourceLocation at, IReadOnlyDictionary<string, object?> alert)
    {
        try
        {
            return ExpressionEvaluator.Evaluate(expr, r =>
            {
                object? current = r.Path[0] == "alert" ? alert : null;
                foreach (var segment in r.Path.Skip(1))
                {
                    current = current switch
                    {
                        IReadOnlyDictionary<string, object?> m => m.GetValueOrDefault(segment),
                        IDictionary<string, object?> d => d.TryGetValue(segment, out var v) ? v : null,
                        _ => null,
                    };
                }

                return current;
            });
        }
        catch (ExpressionException ex)
        {
            throw new ExpressionException($"{at with { Column = at.Column + ex.Offset }}: {ex.Message}", ex.Offset);
        }
    }
}
