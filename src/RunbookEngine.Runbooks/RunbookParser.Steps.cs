using System.Globalization;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Expressions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Workflows;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Runbooks;

/// <content>Steps and their parts: actions and their inputs, approvals, polls, retries, verify, compensate, defaults.</content>
public sealed partial class RunbookParser
{
    private RunbookStep? ParseStep(YamlNode node)
    {
        if (node is not YamlMappingNode m)
        {
            Error(node, "a step must be a mapping with at least 'id' and one of 'action', 'approval', 'sleep'");
            return null;
        }

        var keys = Keys(m, StepKeys, "a step");
        var id = keys.TryGetValue("id", out var idNode) ? RequireString(idNode, "id") : null;
        if (!keys.ContainsKey("id"))
        {
            Error(m, "step without 'id'");
        }
        else if (id is not null && !IdPattern().IsMatch(id))
        {
            Error(idNode!, $"step id '{id}' must start with a letter and use letters, digits, '_' or '-'");
        }

        var what = id is null ? "a step" : $"step '{id}'";
        var kinds = new[] { "approval", "sleep", "wait_until" }.Where(keys.ContainsKey).ToList();
        var hasAction = keys.ContainsKey("action");
        StepType type;
        if (kinds.Count > 1 || (kinds.Count == 1 && kinds[0] != "wait_until" && hasAction))
        {
            Error(m, $"{what} has more than one of 'action', 'approval', 'sleep'; a step does one thing");
            type = StepType.Action;
        }
        else if (kinds.Count == 1)
        {
            type = kinds[0] switch { "approval" => StepType.Approval, "sleep" => StepType.Sleep, _ => StepType.WaitUntil };
            if (type == StepType.WaitUntil && !hasAction)
            {
                Error(keys["wait_until"], $"{what}: 'wait_until' polls the result of an action; add 'action' (and 'with')");
            }
        }
        else if (hasAction)
        {
            type = StepType.Action;
        }
        else
        {
            Error(m, $"{what} needs one of 'action', 'approval', 'sleep', 'wait_until'");
            type = StepType.Action;
        }

        string? action = null;
        MapTemplate? with = null;
        if (hasAction)
        {
            action = RequireString(keys["action"], "action");
            if (action is not null && !actions.TryGet(action, out _))
            {
                Error(keys["action"], $"{what}: unknown action '{action}'{Hint(DidYouMean(action, actions.All.Select(a => a.Name)))}; available: {string.Join(", ", actions.All.Select(a => a.Name))}");
                action = null;
            }
        }

        if (keys.TryGetValue("with", out var withNode))
        {
            if (!hasAction)
            {
                Error(withNode, $"{what}: 'with' gives inputs to an action, but the step has no 'action'");
            }
            else if (withNode is not YamlMappingNode)
            {
                Error(withNode, $"{what}: 'with' must be a mapping of the action's inputs");
            }
            else
            {
                with = (MapTemplate)ParseTemplate(withNode, id, allowResult: false);
                if (action is not null && actions.TryGet(action, out var a))
                {
                    with = CheckWith(a, with, withNode, what);
                }
            }
        }
        else if (action is not null && actions.TryGet(action, out var a2) && a2.Parameters.Any(p => p.Required))
        {
            Error(keys["action"], $"{what}: action '{action}' needs 'with' giving {string.Join(", ", a2.Parameters.Where(p => p.Required).Select(p => $"'{p.Name}'"))}");
        }

        var outputs = new List<(string, Template)>();
        if (keys.TryGetValue("outputs", out var outNode))
        {
            if (!hasAction)
            {
                Error(outNode, $"{what}: only action steps have outputs");
            }

            foreach (var (key, value, keyNode) in Entries(outNode, "outputs"))
            {
                if (!IdPattern().IsMatch(key))
                {
                    Error(keyNode, $"output name '{key}' must start with a letter and use letters, digits, '_' or '-'");
                }

                outputs.Add((key, ParseTemplate(value, id, allowResult: true)));
            }
        }

        var when = keys.TryGetValue("when", out var whenNode) ? ParseCondition(whenNode, id, allowResult: false, "when") : null;
        ApprovalSpec? approval = type == StepType.Approval ? ParseApproval(keys["approval"], what, id) : null;
        TimeSpan? sleep = type == StepType.Sleep ? RequireDuration(keys["sleep"], "sleep") : null;
        WaitUntilSpec? wait = type == StepType.WaitUntil ? ParseWait(keys["wait_until"], what, id) : null;
        var retry = keys.TryGetValue("retry", out var retryNode) ? ParseRetry(retryNode, what) : null;
        var timeout = keys.TryGetValue("timeout", out var to) ? RequireDuration(to, "timeout") : null;
        var total = keys.TryGetValue("total_timeout", out var tt) ? RequireDuration(tt, "total_timeout") : null;
        if ((retry is not null || timeout is not null || total is not null) && type is StepType.Approval or StepType.Sleep)
        {
            Error(retryNode ?? to ?? tt!, $"{what}: retry and timeouts apply to actions; an approval has its own 'timeout' under 'approval'");
        }

        var onFailure = FailureRoute.Abort;
        if (keys.TryGetValue("on_failure", out var of))
        {
            var text = RequireString(of, "on_failure");
            if (text is "abort")
            {
                onFailure = FailureRoute.Abort;
            }
            else if (text is "continue")
            {
                onFailure = new FailureRoute(FailureMode.Continue, null);
            }
            else if (text is not null && text.StartsWith("goto:", StringComparison.Ordinal) && text.Length > 5)
            {
                onFailure = new FailureRoute(FailureMode.Goto, text[5..].Trim());
            }
            else if (text is not null)
            {
                Error(of, $"{what}: on_failure must be abort, continue or goto:<step id> (got '{text}')");
            }
        }

        string? queue = null;
        if (keys.TryGetValue("queue", out var q))
        {
            queue = RequireString(q, "queue");
            if (!hasAction)
            {
                Error(q, $"{what}: 'queue' sends an action to the workers of a task queue; the step has no action");
            }
        }

        VerifySpec? verify = null;
        if (keys.TryGetValue("verify", out var vNode))
        {
            if (type != StepType.Action || !hasAction)
            {
                Error(vNode, $"{what}: 'verify' checks what an action changed; only action steps have it (a wait_until step already polls)");
            }
            else
            {
                verify = ParseVerify(vNode, what, id);
            }
        }

        CompensateSpec? compensate = null;
        if (keys.TryGetValue("compensate", out var cNode))
        {
            if (!hasAction)
            {
                Error(cNode, $"{what}: 'compensate' undoes what an action changed; the step has no action");
            }
            else
            {
                compensate = ParseCompensate(cNode, what, id);
            }
        }

        return id is null ? null : new RunbookStep(id, keys.TryGetValue("description", out var d) ? RequireString(d, "description") : null, type, action, with, outputs, when, approval, sleep, wait, retry, timeout, total, onFailure, queue, Loc(m)) { Verify = verify, Compensate = compensate };
    }

    private CompensateSpec? ParseCompensate(YamlNode node, string what, string? stepId)
    {
        if (node is not YamlMappingNode m)
        {
            Error(node, $"{what}: 'compensate' must be a mapping {{ action, with, retry, timeout }}");
            return null;
        }

        var keys = Keys(m, CompensateKeys, $"the compensate of {what}");
        var (action, with) = ParseNestedAction(keys, m, what, stepId, "compensate", "the 'action' that undoes the step, e.g. action: kubernetes with operation: scale back", allowResult: true);
        var retry = keys.TryGetValue("retry", out var retryNode) ? ParseRetry(retryNode, $"the compensate of {what}") : null;
        var timeout = keys.TryGetValue("timeout", out var to) ? RequireDuration(to, "timeout") : null;
        return action is null ? null : new CompensateSpec(action, with, retry, timeout, Loc(m));
    }

    /// <summary>The action and inputs of a block that runs an action of its own (verify, compensate).</summary>
    private (string? Action, MapTemplate? With) ParseNestedAction(Dictionary<string, YamlNode> keys, YamlMappingNode m, string what, string? stepId, string block, string need, bool allowResult)
    {
        string? action = null;
        if (!keys.TryGetValue("action", out var an))
        {
            Error(m, $"{what}: '{block}' needs {need}");
        }
        else if ((action = RequireString(an, "action")) is not null && !actions.TryGet(action, out _))
        {
            Error(an, $"{what}: unknown action '{action}' in {block}{Hint(DidYouMean(action, actions.All.Select(a => a.Name)))}; available: {string.Join(", ", actions.All.Select(a => a.Name))}");
            action = null;
        }

        MapTemplate? with = null;
        if (keys.TryGetValue("with", out var wn))
        {
            if (wn is not YamlMappingNode)
            {
                Error(wn, $"{what}: the 'with' of {block} must be a mapping of the action's inputs");
            }
            else
            {
                with = (MapTemplate)ParseTemplate(wn, stepId, allowResult);
                if (action is not null && actions.TryGet(action, out var a))
                {
                    with = CheckWith(a, with, wn, $"the {block} of {what}");
                }
            }
        }
        else if (action is not null && actions.TryGet(action, out var a2) && a2.Parameters.Any(p => p.Required))
        {
            Error(an!, $"{what}: the {block} action '{action}' needs 'with' giving {string.Join(", ", a2.Parameters.Where(p => p.Required).Select(p => $"'{p.Name}'"))}");
        }

        return (action, with);
    }

    private VerifySpec? ParseVerify(YamlNode node, string what, string? stepId)
    {
        if (node is not YamlMappingNode m)
        {
            Error(node, $"{what}: 'verify' must be a mapping {{ action, with, condition, interval, timeout }}");
            return null;
        }

        var keys = Keys(m, VerifyKeys, $"the verify of {what}");
        var (action, with) = ParseNestedAction(keys, m, what, stepId, "verify", "the 'action' it polls, e.g. action: prometheus with a query", allowResult: false);

        var (condition, interval, timeout) = ParsePolling(keys, m, stepId, $"{what}: 'verify' needs a 'condition' over the polled result, e.g. \"${{{{ result.value < 90 }}}}\"", $"{what}: 'verify' needs a 'timeout' (how long the condition may take to hold)");

        return action is null || condition is null || interval is null || timeout is null ? null : new VerifySpec(action, with, condition, interval.Value, timeout.Value, Loc(m));
    }

    /// <summary>
    /// <c>defaults:</c> gives, per action, inputs every call of that action in the runbook (a step, its verify, its
    /// compensate) takes unless it gives them itself: e.g. <c>powershell: { language_mode: constrained }</c>. Each
    /// default is copied into the calls' <c>with:</c> mappings before they are parsed, keeping its own position, so
    /// a problem with it is reported where it is written.
    /// </summary>
    private void ApplyDefaults(YamlNode node, YamlSequenceNode steps)
    {
        if (node is not YamlMappingNode byAction)
        {
            Error(node, "'defaults' must be a mapping of action names to the inputs their steps take by default, e.g. defaults: { powershell: { language_mode: constrained } }");
            return;
        }

        var defaults = new Dictionary<string, YamlMappingNode>(StringComparer.Ordinal);
        foreach (var (key, value) in byAction.Children)
        {
            var name = (key as YamlScalarNode)?.Value ?? string.Empty;
            if (!actions.TryGet(name, out var action))
            {
                Error(key, $"defaults: unknown action '{name}'{Hint(DidYouMean(name, actions.All.Select(a => a.Name)))}; available: {string.Join(", ", actions.All.Select(a => a.Name))}");
                continue;
            }

            if (value is not YamlMappingNode with)
            {
                Error(value, $"defaults: the defaults of '{name}' must be a mapping of its inputs, like a step's 'with'");
                continue;
            }

            foreach (var input in with.Children.Keys.OfType<YamlScalarNode>().Where(k => !action.Parameters.Any(p => p.Name == k.Value)))
            {
                Error(input, $"defaults: action '{name}' has no input '{input.Value}'{Hint(DidYouMean(input.Value ?? string.Empty, action.Parameters.Select(x => x.Name)))}; it takes {string.Join(", ", action.Parameters.Select(x => x.Name))}");
            }

            defaults[name] = with;
        }

        foreach (var step in steps.Children.OfType<YamlMappingNode>())
        {
            foreach (var call in new[] { step, Child(step, "verify"), Child(step, "compensate") }.OfType<YamlMappingNode>())
            {
                if (Child(call, "action") is YamlScalarNode { Value: { } name } && defaults.TryGetValue(name, out var given))
                {
                    if (Child(call, "with") is not { } with)
                    {
                        with = new YamlMappingNode();
                        call.Children.Add(new YamlScalarNode("with"), with);
                    }

                    if (with is YamlMappingNode target)
                    {
                        // An unknown input is reported once, at the defaults: it is not copied into every call.
                        var known = actions.TryGet(name, out var action) ? action.Parameters.Select(p => p.Name).ToHashSet(StringComparer.Ordinal) : [];
                        foreach (var (key, value) in given.Children.Where(kv => kv.Key is YamlScalarNode { Value: { } k } && known.Contains(k) && Child(target, k) is null))
                        {
                            target.Children.Add(key, value);
                        }
                    }
                }
            }
        }

        static YamlNode? Child(YamlMappingNode m, string key) => m.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;
    }

    /// <summary>Checks a step's inputs against its action; returns them with every file input read and pinned.</summary>
    private MapTemplate CheckWith(IRunbookAction action, MapTemplate with, YamlNode withNode, string what)
    {
        var given = with.Entries.ToDictionary(e => e.Key, StringComparer.Ordinal);
        var entries = new List<(string Key, Template Value, SourceLocation KeyLocation)>(with.Entries.Count);
        foreach (var (key, value, keyLocation) in with.Entries)
        {
            var p = action.Parameters.FirstOrDefault(x => x.Name == key);
            entries.Add((key, value, keyLocation));
            if (p is null)
            {
                Error(keyLocation, $"{what}: action '{action.Name}' has no input '{key}'{Hint(DidYouMean(key, action.Parameters.Select(x => x.Name)))}; it takes {string.Join(", ", action.Parameters.Select(x => x.Name))}");
                continue;
            }

            if (p.Verbatim && value is not LiteralTemplate)
            {
                Error(value.Location, $"{what}: '{key}' is code and is run as written: it cannot hold ${{{{ }}}} expressions, since a value pasted into code (an alert label such as '$(Remove-Item ...)') would run as code; pass values as parameters instead, e.g. parameters: {{ Name: \"${{{{ inputs.name }}}}\" }}, and read them with param($Name)");
                continue;
            }

            if (p.Type == ParameterType.File)
            {
                entries[^1] = (key, PinFile(action, key, value, what), keyLocation);
                continue;
            }

            if (TypeProblem(p, value) is { } problem)
            {
                Error(value.Location, $"{what}: '{key}' {problem}");
            }
            else if (value is LiteralTemplate { Value: JsonValue text } && text.TryGetValue<string>(out var literal))
            {
                var node = (withNode as YamlMappingNode)?.Children.FirstOrDefault(c => c.Key is YamlScalarNode { Value: var k } && k == key).Value;
                foreach (var found in action.CheckInput(key, literal))
                {
                    Error(InsideScalar(node, value.Location, found), $"{what}: '{key}': {found.Message}");
                }
            }
        }

        foreach (var missing in action.Parameters.Where(p => p.Required && !given.ContainsKey(p.Name)))
        {
            Error(withNode, $"{what}: action '{action.Name}' needs '{missing.Name}' ({missing.Description})");
        }

        if (action.CheckKeys(given.Keys) is { } combination)
        {
            Error(withNode, $"{what}: {combination}");
        }

        return with with { Entries = entries };
    }

    /// <summary>
    /// Reads a file input (a path relative to the runbook) and pins its text into the step's inputs as
    /// <c>{ path, content }</c>: the definition a run starts with then holds the file too.
    /// </summary>
    private Template PinFile(IRunbookAction action, string key, Template value, string what)
    {
        if (value is not LiteralTemplate { Value: JsonValue v } || !v.TryGetValue<string>(out var relative) || relative.Length == 0)
        {
            Error(value.Location, $"{what}: '{key}' must be a path written as is (a file beside the runbook, read when the runbook is loaded), not an expression");
            return value;
        }

        if (Path.IsPathRooted(relative) || relative.Contains('\\', StringComparison.Ordinal))
        {
            Error(value.Location, $"{what}: '{key}' must be a path relative to the runbook's file, with / between directories (got '{relative}'): every worker reads the runbook's own copy");
            return value;
        }

        var shown = Path.GetDirectoryName(file) is { Length: > 0 } dir ? dir.Replace('\\', '/') + "/" + relative : relative;
        string? content;
        if (pinnedFiles is not null)
        {
            content = pinnedFiles.TryGetValue(relative, out var pinned) ? pinned : null;
            if (content is null)
            {
                Error(value.Location, $"{what}: '{key}': the file '{relative}' is not in the runbook's pinned definition");
                return value;
            }
        }
        else
        {
            try
            {
                content = File.ReadAllText(shown);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Error(value.Location, $"{what}: '{key}': cannot read '{shown}': {ex.Message}");
                return value;
            }
        }

        readFiles[relative] = content;
        foreach (var found in action.CheckInput(key, content))
        {
            Error(new SourceLocation(shown, found.Line, found.Column), $"{what}: '{key}': {found.Message}");
        }

        return new LiteralTemplate(new JsonObject { ["path"] = relative, ["content"] = content }, value.Location);
    }

    /// <summary>
    /// Where a line and column of a scalar's text are in the runbook: exact for a literal block (<c>|</c>) and for the
    /// first line of a plain or quoted scalar; the scalar's start otherwise.
    /// </summary>
    private SourceLocation InsideScalar(YamlNode? node, SourceLocation start, InputProblem at)
    {
        if (node is not YamlScalarNode scalar)
        {
            return start;
        }

        if (scalar.Style == ScalarStyle.Literal)
        {
            // The text starts on the line after the '|', at the block's indentation (that of its first non-blank line).
            var first = (int)scalar.Start.Line + 1;
            var indent = sourceLines.Skip(first - 1).Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart(' ').Length).FirstOrDefault();
            return start with { Line = first + at.Line - 1, Column = indent + at.Column };
        }

        return at.Line == 1 && scalar.Style is ScalarStyle.Plain or ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted
            ? start with { Column = start.Column + at.Column - (scalar.Style == ScalarStyle.Plain ? 1 : 0) }
            : start;
    }

    private static string? TypeProblem(ActionParameter p, Template value)
    {
        if (value is ExpressionTemplate or InterpolatedTemplate && p.Type is ParameterType.String or ParameterType.StringOrList or ParameterType.StringOrMap or ParameterType.Number or ParameterType.NumberOrList or ParameterType.Boolean)
        {
            return null; // checked when evaluated
        }

        var ok = (p.Type, value) switch
        {
            (_, ExpressionTemplate) => true,
            (ParameterType.String, LiteralTemplate l) => l.Value is JsonValue v && (v.TryGetValue<string>(out _) || v.TryGetValue<double>(out _)),
            (ParameterType.String, InterpolatedTemplate) => true,
            (ParameterType.Number, LiteralTemplate l) => l.Value is JsonValue v && v.TryGetValue<double>(out _),
            (ParameterType.Boolean, LiteralTemplate l) => l.Value is JsonValue v && v.TryGetValue<bool>(out _),
            (ParameterType.List, ListTemplate) => true,
            (ParameterType.Map, MapTemplate) => true,
            (ParameterType.StringOrList, LiteralTemplate l) => l.Value is JsonValue,
            (ParameterType.StringOrList, ListTemplate or InterpolatedTemplate) => true,
            (ParameterType.StringOrMap, LiteralTemplate or MapTemplate or InterpolatedTemplate or ListTemplate) => true,
            (ParameterType.NumberOrList, LiteralTemplate l) => l.Value is JsonValue v && v.TryGetValue<double>(out _),
            (ParameterType.NumberOrList, ListTemplate) => true,
            _ => false,
        };
        if (!ok)
        {
            return $"must be {Describe(p.Type)}";
        }

        if (p.AllowedValues is { } allowed && value is LiteralTemplate { Value: JsonValue sv } && sv.TryGetValue<string>(out var s) && !allowed.Contains(s, StringComparer.OrdinalIgnoreCase))
        {
            return $"must be one of {string.Join(", ", allowed)} (got '{s}')";
        }

        return null;
    }

    /// <summary>What a value of an action parameter's type is, for messages ("a string or a list").</summary>
    /// <param name="type">The type.</param>
    /// <returns>The words.</returns>
    internal static string Describe(ParameterType type) => type switch
    {
        ParameterType.StringOrList => "a string or a list",
        ParameterType.StringOrMap => "a string or a mapping",
        ParameterType.NumberOrList => "a number or a list of numbers",
        ParameterType.Map => "a mapping",
        var t => "a " + t.ToString().ToLowerInvariant(),
    };

    private ApprovalSpec? ParseApproval(YamlNode node, string what, string? stepId, string[]? allowed = null)
    {
        if (node is not YamlMappingNode m)
        {
            Error(node, $"{what}: 'approval' must be a mapping, e.g. {{ approvers: [group:sre-oncall], min: 1, timeout: 30m }}");
            return null;
        }

        var keys = Keys(m, allowed ?? ApprovalKeys, $"the approval of {what}");
        var approvers = new List<string>();
        if (!keys.TryGetValue("approvers", out var a))
        {
            Error(m, $"{what}: 'approval' needs 'approvers' (users like alice, or groups like group:sre-oncall)");
        }
        else if (a is not YamlSequenceNode seq || seq.Children.Count == 0 || !seq.Children.All(c => c is YamlScalarNode { Value.Length: > 0 }))
        {
            Error(a, $"{what}: 'approvers' must be a non-empty list of users or group:<name>");
        }
        else
        {
            approvers.AddRange(seq.Children.Select(c => ((YamlScalarNode)c).Value!));
        }

        var min = keys.TryGetValue("min", out var mn) ? RequireInt(mn, "min", 1, 100) ?? 1 : 1;
        var timeout = keys.TryGetValue("timeout", out var t) ? RequireDuration(t, "timeout") : null;
        var onTimeout = "reject";
        if (keys.TryGetValue("on_timeout", out var ot))
        {
            onTimeout = RequireString(ot, "on_timeout") ?? onTimeout;
            if (onTimeout is not ("reject" or "approve"))
            {
                Error(ot, $"{what}: on_timeout must be reject or approve (got '{onTimeout}')");
            }

            if (timeout is null && !keys.ContainsKey("timeout"))
            {
                Error(ot, $"{what}: on_timeout needs a 'timeout'");
            }
        }

        // A gate on a triggered run: the run was started by an alert, so four-eyes has no one to exclude.
        var fourEyes = allowed is null && (!keys.TryGetValue("four_eyes", out var fe) || (RequireBool(fe, "four_eyes") ?? true));
        var message = keys.TryGetValue("message", out var msg) ? ParseTemplate(msg, stepId, allowResult: false) : null;
        return new ApprovalSpec(approvers, min, timeout, onTimeout, fourEyes, message);
    }

    private WaitUntilSpec? ParseWait(YamlNode node, string what, string? stepId)
    {
        if (node is not YamlMappingNode m)
        {
            Error(node, $"{what}: 'wait_until' must be a mapping {{ condition, interval, timeout }}");
            return null;
        }

        var keys = Keys(m, WaitKeys, $"the wait_until of {what}");
        var (condition, interval, timeout) = ParsePolling(keys, m, stepId, $"{what}: 'wait_until' needs a 'condition' over result, e.g. \"${{{{ result.status == 200 }}}}\"", $"{what}: 'wait_until' needs a 'timeout' (how long to keep polling)");
        return condition is null || interval is null || timeout is null ? null : new WaitUntilSpec(condition, interval.Value, timeout.Value);
    }

    /// <summary>The condition, interval (default 10s) and required timeout of a polling block (wait_until, verify).</summary>
    private (ExpressionTemplate? Condition, TimeSpan? Interval, TimeSpan? Timeout) ParsePolling(Dictionary<string, YamlNode> keys, YamlMappingNode m, string? stepId, string noCondition, string noTimeout)
    {
        var condition = keys.TryGetValue("condition", out var c) ? ParseCondition(c, stepId, allowResult: true, "condition") : null;
        if (!keys.ContainsKey("condition"))
        {
            Error(m, noCondition);
        }

        var interval = keys.TryGetValue("interval", out var i) ? RequireDuration(i, "interval") : TimeSpan.FromSeconds(10);
        var timeout = keys.TryGetValue("timeout", out var t) ? RequireDuration(t, "timeout") : null;
        if (!keys.ContainsKey("timeout"))
        {
            Error(m, noTimeout);
        }

        return (condition, interval, timeout);
    }

    private RetrySpec? ParseRetry(YamlNode node, string what)
    {
        if (node is not YamlMappingNode m)
        {
            Error(node, $"{what}: 'retry' must be a mapping, e.g. {{ max_attempts: 3, initial_interval: 2s }}");
            return null;
        }

        var keys = Keys(m, RetryKeys, $"the retry of {what}");
        var max = keys.TryGetValue("max_attempts", out var ma) ? RequireInt(ma, "max_attempts", 1, 1000) ?? 3 : 3;
        var initial = keys.TryGetValue("initial_interval", out var ii) ? RequireDuration(ii, "initial_interval") ?? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(1);
        var backoff = 2.0;
        if (keys.TryGetValue("backoff", out var b))
        {
            if (b is YamlScalarNode { Style: ScalarStyle.Plain } bs && double.TryParse(bs.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var bv) && bv >= 1 && bv <= 100)
            {
                backoff = bv;
            }
            else
            {
                Error(b, $"{what}: 'backoff' must be a number from 1 to 100");
            }
        }

        var maxInterval = keys.TryGetValue("max_interval", out var mi) ? RequireDuration(mi, "max_interval") ?? TimeSpan.FromMinutes(1) : TimeSpan.FromMinutes(1);
        if (maxInterval < initial)
        {
            Error(mi ?? m, $"{what}: 'max_interval' ({Durations.Format(maxInterval)}) is shorter than 'initial_interval' ({Durations.Format(initial)})");
        }

        var nonRetryable = new List<string>();
        if (keys.TryGetValue("non_retryable", out var nr))
        {
            if (nr is YamlSequenceNode ns && ns.Children.All(c => c is YamlScalarNode))
            {
                nonRetryable.AddRange(ns.Children.Select(c => ((YamlScalarNode)c).Value ?? string.Empty));
            }
            else
            {
                Error(nr, $"{what}: 'non_retryable' must be a list of error kinds (e.g. [ExitCode, HttpStatus])");
            }
        }

        return new RetrySpec(max, initial, backoff, maxInterval, nonRetryable);
    }
}
