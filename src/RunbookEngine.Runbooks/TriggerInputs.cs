using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Expressions;
using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Runbooks;

/// <summary>
/// Renders templates evaluated outside a run's steps, against a few named roots: a trigger's <c>inputs:</c>
/// against the alert (<c>alert</c>), a guard's <c>target</c> against the run's inputs (<c>inputs</c>).
/// </summary>
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
        var roots = new Dictionary<string, object?>(StringComparer.Ordinal) { ["alert"] = alert };
        var result = new JsonObject();
        try
        {
            foreach (var (name, template) in trigger.Inputs)
            {
                result[name] = Render(template, roots);
            }
        }
        catch (ExpressionException ex)
        {
            return (null, ex.Message);
        }

        return (result, null);
    }

    /// <summary>Renders a template against named roots.</summary>
    /// <param name="template">The template.</param>
    /// <param name="roots">The values a reference's first name may name.</param>
    /// <returns>The value.</returns>
    /// <exception cref="ExpressionException">The expression failed; the message starts with file:line:col.</exception>
    public static JsonNode? Render(Template template, IReadOnlyDictionary<string, object?> roots) => template switch
    {
        LiteralTemplate l => l.Value?.DeepClone(),
        ExpressionTemplate e => RunbookValues.ToJson(Eval(e.Expression, e.Location, roots)),
        InterpolatedTemplate i => JsonValue.Create(string.Concat(i.Parts.Select(p => p.Expression is null ? p.Text : ExpressionEvaluator.Stringify(Eval(p.Expression, i.Location, roots))))),
        ListTemplate list => new JsonArray([.. list.Items.Select(item => Render(item, roots))]),
        MapTemplate map => new JsonObject(map.Entries.Select(e => KeyValuePair.Create(e.Key, Render(e.Value, roots)))),
        _ => null,
    };

    private static object? Eval(Expr expr, SourceLocation at, IReadOnlyDictionary<string, object?> roots)
    {
        try
        {
            return ExpressionEvaluator.Evaluate(expr, r =>
            {
                object? current = roots.GetValueOrDefault(r.Path[0]);
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
