using System.Globalization;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Expressions;
using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Runbooks;

/// <content>The validation passes over the parsed runbook: references, step ids, destructive steps without a gate, command injection.</content>
public sealed partial class RunbookParser
{
    /// <summary>
    /// A trigger that starts live runs with nobody to approve them must not reach a step that is destructive
    /// as written (an http DELETE, say): the runbook has to name approvers or say destructive: allow. Steps
    /// whose inputs decide at run time are checked when they run.
    /// </summary>
    private void CheckDestructiveSteps(List<TriggerSpec> triggers, List<RunbookStep> steps)
    {
        foreach (var trigger in triggers.Where(t => t.Mode == TriggerMode.Live && !t.AllowDestructive && t.Approval is null))
        {
            foreach (var step in steps.Where(x => x.Type is StepType.Action or StepType.WaitUntil && x.Action is not null))
            {
                if (IsDestructive(step.Action!, step.With) || (step.Compensate is { } c && IsDestructive(c.Action, c.With)))
                {
                    Error(trigger.Location, $"this trigger starts runs with no one watching, and step '{step.Id}' at {step.Location} ({step.Action}) is destructive: name who approves it with approval: {{ approvers: [group:sre-oncall] }}, or write destructive: allow to let it run unattended");
                    break;
                }
            }
        }
    }

    /// <summary>
    /// A string <c>command:</c> runs through <c>bash -c</c> (or <c>pwsh -Command</c>): interpolating an input a
    /// trigger sets from an alert into it lets whoever controls the alert's labels run commands on the worker
    /// (a label <c>x; rm -rf /</c>). Refused, with the two safe ways: the value in <c>env:</c>, or an argument list.
    /// </summary>
    private void CheckCommandInjection(List<TriggerSpec> triggers, List<RunbookStep> steps)
    {
        var fromAlerts = triggers.SelectMany(t => t.Inputs.Select(i => (i.Name, t.Location)))
            .GroupBy(i => i.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().Location, StringComparer.Ordinal);

        foreach (var step in steps)
        {
            var calls = new List<(string? Action, MapTemplate? With)> { (step.Action, step.With) };
            if (step.Compensate is { } c)
            {
                calls.Add((c.Action, c.With));
            }

            if (step.Verify is { } v)
            {
                calls.Add((v.Action, v.With));
            }

            foreach (var (action, with) in calls)
            {
                if (action != "shell" || with?.Entries.FirstOrDefault(e => e.Key == "command").Value is not { } command || command is ListTemplate)
                {
                    continue;
                }

                var expressions = command switch
                {
                    ExpressionTemplate e => [e.Expression],
                    InterpolatedTemplate i => i.Parts.Where(x => x.Expression is not null).Select(x => x.Expression!).ToList(),
                    _ => new List<Expr>(),
                };
                var used = expressions.SelectMany(Walk).OfType<RefExpr>()
                    .Where(r => r.Path.Count >= 2 && r.Path[0] == "inputs")
                    .Select(r => r.Path[1]).Distinct(StringComparer.Ordinal).ToList();
                if (used.Count == 0)
                {
                    continue;
                }

                var input = used.FirstOrDefault(fromAlerts.ContainsKey) ?? used[0];
                var variable = input.ToUpperInvariant().Replace('-', '_');
                var fix = $"Pass the value in env: (env: {{ {variable}: \"${{{{ inputs.{input} }}}}\" }} and \"${variable}\" in the command) or use an argument list (command: [prog, \"${{{{ inputs.{input} }}}}\"])";
                if (fromAlerts.TryGetValue(input, out var trigger))
                {
                    Error(command.Location, $"step '{step.Id}': the string command interpolates inputs.{input}, which the trigger at {trigger} sets from an alert; a string command runs through a shell, so an alert label such as 'x; rm -rf /' would run as a command. {fix}");
                }
                else
                {
                    Warn(command.Location, $"step '{step.Id}': the string command interpolates inputs.{input}; a string command runs through a shell, so a value such as 'x; rm -rf /' would run as a command. {fix}");
                }
            }
        }
    }

    private bool IsDestructive(string name, MapTemplate? with) => actions.TryGet(name, out var action) && action.Classify(LiteralWith(with)) == SideEffect.Destructive;

    /// <summary>The inputs of a step that are written as literals (templated ones are left out).</summary>
    private static JsonObject LiteralWith(MapTemplate? with)
    {
        var literal = new JsonObject();
        foreach (var (key, value, _) in with?.Entries ?? [])
        {
            if (value is LiteralTemplate l)
            {
                literal[key] = l.Value?.DeepClone();
            }
        }

        return literal;
    }

    private void CheckTriggerReferences()
    {
        foreach (var (expr, start) in triggerSites)
        {
            foreach (var r in Walk(expr).OfType<RefExpr>())
            {
                var at = start with { Column = start.Column + r.Offset };
                if (r.Path[0] != "alert")
                {
                    Error(at, $"a trigger's inputs come from the alert: use alert.labels.NAME, alert.annotations.NAME or alert.{string.Join(", alert.", AlertFields.Skip(2))}, not '{r.Path[0]}'");
                }
                else if (r.Path.Count < 2 || !AlertFields.Contains(r.Path[1], StringComparer.Ordinal))
                {
                    Error(at, $"'alert' has the fields {string.Join(", ", AlertFields)}" + (r.Path.Count >= 2 ? Hint(DidYouMean(r.Path[1], AlertFields)) : string.Empty));
                }
                else if (r.Path[1] is "labels" or "annotations" && r.Path.Count != 3)
                {
                    Error(at, $"alert.{r.Path[1]} needs a name: alert.{r.Path[1]}.NAME");
                }
            }

            foreach (var call in Walk(expr).OfType<CallExpr>().Where(c => !ExpressionEvaluator.Functions.ContainsKey(c.Name)))
            {
                Error(start with { Column = start.Column + call.Offset }, $"unknown function '{call.Name}'{Hint(DidYouMean(call.Name, ExpressionEvaluator.Functions.Keys))}");
            }
        }
    }

    private void CheckSteps(List<RunbookStep> steps)
    {
        var seen = new Dictionary<string, RunbookStep>(StringComparer.Ordinal);
        foreach (var s in steps)
        {
            if (seen.TryGetValue(s.Id, out var first))
            {
                Error(s.Location, $"duplicate step id '{s.Id}' (first defined at line {first.Location.Line})");
            }
            else
            {
                seen[s.Id] = s;
            }
        }

        foreach (var s in steps.Where(s => s.OnFailure.Mode == FailureMode.Goto))
        {
            var target = s.OnFailure.Target!;
            if (!seen.ContainsKey(target))
            {
                Error(s.Location, $"step '{s.Id}': on_failure goes to unknown step '{target}'{Hint(DidYouMean(target, seen.Keys))}");
            }
            else if (target == s.Id)
            {
                // Longer goto loops exit when a step on them succeeds, and are bounded by max_loops at run time.
                Error(s.Location, $"step '{s.Id}': on_failure: goto:{s.Id} is a cycle with no exit (the step would fail into itself forever); use 'retry' to try it again");
            }
        }

    }

    private void CheckReferences(List<RunbookStep> steps, List<RunbookInput> inputs)
    {
        var stepOutputs = steps.GroupBy(s => s.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Outputs.Select(o => o.Name).ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        var inputNames = inputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var (expr, start, stepId, allowResult) in sites)
        {
            foreach (var node in Walk(expr))
            {
                var at = start with { Column = start.Column + node.Offset };
                switch (node)
                {
                    case CallExpr call when !ExpressionEvaluator.Functions.TryGetValue(call.Name, out _):
                        Error(at, $"unknown function '{call.Name}'{Hint(DidYouMean(call.Name, ExpressionEvaluator.Functions.Keys))}");
                        break;
                    case CallExpr call:
                        var (min, max, help) = ExpressionEvaluator.Functions[call.Name];
                        if (call.Args.Count < min || call.Args.Count > max)
                        {
                            Error(at, $"{call.Name} takes {(min == max ? min.ToString(CultureInfo.InvariantCulture) : $"{min} to {max}")} argument(s), got {call.Args.Count} (a pipe passes its left side as the first): {help}");
                        }

                        break;
                    case RefExpr r:
                        if (CheckRef(r, stepOutputs, inputNames, stepId, allowResult) is { } problem)
                        {
                            Error(at, problem);
                        }

                        break;
                }
            }
        }
    }

    private static string? CheckRef(RefExpr r, Dictionary<string, HashSet<string>> steps, HashSet<string> inputs, string? self, bool allowResult)
    {
        var root = r.Path[0];
        switch (root)
        {
            case "inputs":
                if (r.Path.Count < 2)
                {
                    return "'inputs' needs a name: inputs.<name>";
                }

                return inputs.Contains(r.Path[1]) ? null : $"unknown input '{r.Path[1]}'{Hint(DidYouMean(r.Path[1], inputs))}" + (inputs.Count == 0 ? "; the runbook declares no inputs" : $"; declared: {string.Join(", ", inputs)}");
            case "steps":
                if (r.Path.Count < 3)
                {
                    return "a step reference is steps.<id>.outputs.<name> or steps.<id>.status";
                }

                var id = r.Path[1];
                if (!steps.TryGetValue(id, out var outputs))
                {
                    return $"unknown step '{id}'{Hint(DidYouMean(id, steps.Keys))}";
                }

                if (id == self)
                {
                    return $"step '{id}' cannot refer to itself through steps.{id}; use 'result' in its outputs";
                }

                if (r.Path[2] == "status")
                {
                    return r.Path.Count == 3 ? null : $"steps.{id}.status is a string with no fields";
                }

                if (r.Path[2] != "outputs")
                {
                    return $"steps.{id}.{r.Path[2]}: a step exposes 'outputs' and 'status'{Hint(DidYouMean(r.Path[2], ["outputs", "status"]))}";
                }

                if (r.Path.Count < 4)
                {
                    return $"steps.{id}.outputs needs a name";
                }

                return outputs.Contains(r.Path[3]) ? null : $"step '{id}' has no output '{r.Path[3]}'" + (outputs.Count == 0 ? " (it declares no outputs)" : $"{Hint(DidYouMean(r.Path[3], outputs))}; declared: {string.Join(", ", outputs)}");
            case "result":
                return allowResult ? null : "'result' is the result of the step's own action: it can be used only in that step's outputs and wait_until condition";
            case "run":
                return r.Path.Count == 2 && RunFields.Contains(r.Path[1]) ? null : $"'run' has the fields {string.Join(", ", RunFields)}";
            default:
                return $"unknown name '{root}'{Hint(DidYouMean(root, ["inputs", "steps", "result", "run"]))}: expressions can refer to inputs, steps, result and run";
        }
    }

    private static IEnumerable<Expr> Walk(Expr e)
    {
        yield return e;
        IEnumerable<Expr> children = e switch
        {
            UnaryExpr u => [u.Operand],
            BinaryExpr b => [b.Left, b.Right],
            CallExpr c => c.Args,
            _ => [],
        };
        foreach (var child in children)
        {
            foreach (var n in Walk(child))
            {
                yield return n;
            }
        }
    }
}
