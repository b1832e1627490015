using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Expressions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks;

/// <summary>The values a run's expressions see: inputs, step outputs and statuses, the current result, the run.</summary>
internal sealed class RunState
{
    private readonly IWorkflowContext ctx;
    private readonly Runbook runbook;
    private readonly Dictionary<string, object?> inputs;

    public RunState(IWorkflowContext ctx, RunbookRunInput input, Runbook runbook)
    {
        this.ctx = ctx;
        this.runbook = runbook;
        Input = input;
        DryRun = input.DryRun;
        Gate = RunGate.FromJson(input.Gate);
        Script = DrillScript.From(input.Script);
        inputs = RunbookValues.FromJson(input.Inputs) as Dictionary<string, object?> ?? [];
    }

    /// <summary>Gets what the run started with.</summary>
    public RunbookRunInput Input { get; }

    public bool DryRun { get; }

    /// <summary>Gets the approval gate of a run an alert started, or null.</summary>
    public RunGate? Gate { get; }

    /// <summary>Gets a live drill's answers for the steps it does not mark live, or null.</summary>
    public DrillScript? Script { get; }

    public Dictionary<string, string> Status { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, Dictionary<string, object?>> Outputs { get; } = new(StringComparer.Ordinal);

    public void SetOutputs(RunbookStep step, JsonNode? result)
    {
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, template) in step.Outputs)
        {
            values[name] = DryRun ? Unknown.Value : Value(template, RunbookValues.FromJson(result), step);
        }

        Outputs[step.Id] = values;
    }

    public object? Evaluate(ExpressionTemplate template, JsonNode? result, RunbookStep? step) =>
        Eval(template.Expression, template.Location, RunbookValues.FromJson(result), step);

    /// <summary>Renders a template to JSON; in a dry-run an unknown value shows as the expression's own text.</summary>
    public JsonNode? Render(Template template, JsonNode? result, RunbookStep? step = null) => Render(template, RunbookValues.FromJson(result), step);

    private JsonNode? Render(Template template, object? result, RunbookStep? step) => template switch
    {
        LiteralTemplate l => l.Value?.DeepClone(),
        ExpressionTemplate e => Eval(e.Expression, e.Location, result, step) is Unknown ? JsonValue.Create(e.Text) : RunbookValues.ToJson(Eval(e.Expression, e.Location, result, step)),
        InterpolatedTemplate i => JsonValue.Create(string.Concat(i.Parts.Select(p => p.Expression is null ? p.Text : Eval(p.Expression, i.Location, result, step) is var v && v is Unknown ? p.Text : ExpressionEvaluator.Stringify(v)))),
        ListTemplate list => new JsonArray([.. list.Items.Select(item => Render(item, result, step))]),
        MapTemplate map => new JsonObject(map.Entries.Select(e => KeyValuePair.Create(e.Key, Render(e.Value, result, step)))),
        _ => null,
    };

    private object? Value(Template template, object? result, RunbookStep? step) => template switch
    {
        ExpressionTemplate e => Eval(e.Expression, e.Location, result, step),
        InterpolatedTemplate i when i.Parts.Any(p => p.Expression is not null && Eval(p.Expression, i.Location, result, step) is Unknown) => Unknown.Value,
        _ => RunbookValues.FromJson(Render(template, result, step)),
    };

    private object? Eval(Expr expr, SourceLocation at, object? result, RunbookStep? step)
    {
        try
        {
            return ExpressionEvaluator.Evaluate(expr, r => Resolve(r, result));
        }
        catch (ExpressionException ex)
        {
            var where = at with { Column = at.Column + ex.Offset };
            throw new StepFailedException(step?.Id ?? "outputs", 0, "ExpressionError", $"{where}: {ex.Message}", 0);
        }
    }

    private object? Resolve(RefExpr r, object? result)
    {
        object? root = r.Path[0] switch
        {
            "inputs" => inputs,
            "result" => result,
            "run" => new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["id"] = ctx.RunId,
                ["started_by"] = ctx.StartedBy,
                ["dry_run"] = DryRun,
                ["runbook"] = runbook.Name,
            },
            "steps" => StepsView(),
            _ => null,
        };

        if (r.Path[0] == "result" && DryRun)
        {
            return Unknown.Value;
        }

        var current = root;
        foreach (var segment in r.Path.Skip(1))
        {
            current = current switch
            {
                Unknown => Unknown.Value,
                Dictionary<string, object?> m => m.TryGetValue(segment, out var v) ? v : null,
                List<object?> l when int.TryParse(segment, out var i) => i >= 0 && i < l.Count ? l[i] : null,
                _ => null,
            };
        }

        return current;
    }

    private Dictionary<string, object?> StepsView()
    {
        var view = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var s in runbook.Steps)
        {
            // A planned step may yet succeed or fail: in a dry-run its status is unknown, not "planned".
            object? status = Status.GetValueOrDefault(s.Id, "pending") is var st && st == "planned" ? Unknown.Value : st;
            object? outputs = Outputs.TryGetValue(s.Id, out var o) ? o : DryRun ? Unknown.Value : new Dictionary<string, object?>(StringComparer.Ordinal);
            view[s.Id] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["status"] = status, ["outputs"] = outputs };
        }

        return view;
    }
}
