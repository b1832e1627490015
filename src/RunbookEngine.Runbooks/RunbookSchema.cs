using System.Text.Json;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;

namespace RunbookEngine.Runbooks;

/// <summary>
/// The JSON Schema of YAML runbooks, for editors (completion, hover text, squiggles as you type): every key the
/// parser accepts, with what it means, and every action's <c>with:</c> keys from the action's own declaration.
/// <c>runbook schema</c> prints it; <c>schema/runbook.schema.json</c> is it, checked in, and a test keeps the two
/// equal and every example valid against it.
/// </summary>
/// <remarks>
/// It is built from the parser's own key lists, so a key added to the parser without a description here fails to
/// build (and the test says which). It helps while typing; <c>runbook validate</c> remains the authority, with
/// file:line:col, for what a schema cannot say (expressions, step references, durations, guards of triggers).
/// Values that may be expressions (<c>${{ ... }}</c>) accept a string wherever a number, boolean, list or map goes.
/// </remarks>
public static class RunbookSchema
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static readonly Dictionary<string, string> Descriptions = new(StringComparer.Ordinal)
    {
        ["root.name"] = "The runbook's name, used by `runbook run NAME`: lower-case letters, digits and '-'.",
        ["root.description"] = "What it does and when it runs in production; the first line is shown by `runbook list`.",
        ["root.inputs"] = "The inputs, by name: type, default, pattern, whether required or secret.",
        ["root.steps"] = "The steps, run in order: an action, an approval, a sleep or a wait_until each.",
        ["root.outputs"] = "The run's outputs, by name: values, usually expressions over the steps (${{ steps.ID.outputs.NAME }}).",
        ["root.defaults"] = "Inputs every call of an action takes unless it gives them itself, by action name, e.g. powershell: { language_mode: constrained }.",
        ["root.max_loops"] = "1 to 10000, default 10: a step reached more often than this in one run (through goto) fails the run with LoopLimit.",
        ["root.compensate_on"] = "When the compensations of the steps that succeeded run: failure (default: a step failed the run), cancel (the run was cancelled), both, or [] never.",
        ["root.triggers"] = "Which alerts `runbook serve` starts this runbook for, and how (live, dry-run, approval).",
        ["root.guards"] = "Limits per target shared by every worker: one live run, cooldown, rate, circuit breaker.",
        ["input.type"] = "string (default), number, boolean, enum (one of values) or list.",
        ["input.required"] = "true if it must be given; an input with a default is never required.",
        ["input.default"] = "The value when not given (must match the type).",
        ["input.pattern"] = "A .NET regular expression a string must match, e.g. '^[a-z0-9.-]+$'.",
        ["input.values"] = "The allowed values of an enum.",
        ["input.secret"] = "true: only a secret reference is accepted (secret://env/NAME or secret://file/PATH); the value is read in the worker and never recorded.",
        ["input.description"] = "Shown in errors and docs.",
        ["step.id"] = "Required, unique: a letter, then letters, digits, '_' or '-'. Referenced as steps.ID.",
        ["step.description"] = "Free text.",
        ["step.action"] = "The action to run: its with: keys are checked against the action's declaration.",
        ["step.with"] = "The action's inputs; values may contain expressions.",
        ["step.outputs"] = "Outputs computed from the action's result (${{ result.stdout }}), read later as steps.ID.outputs.NAME.",
        ["step.when"] = "A condition: the step is skipped (and that is recorded) when it is false.",
        ["step.approval"] = "An approval gate: who may approve, how many, four-eyes, deadline.",
        ["step.sleep"] = "A duration (30s, 5m, 1h30m): a durable timer that holds no process.",
        ["step.wait_until"] = "Run the action every interval until the condition over its result holds; fails with WaitTimedOut after timeout.",
        ["step.retry"] = "How a failed action is retried; without it an action is tried once.",
        ["step.timeout"] = "The limit on one attempt (a duration); the action is cancelled and the attempt fails with Timeout.",
        ["step.total_timeout"] = "The limit on the whole step from its first attempt, back-off included (a duration).",
        ["step.on_failure"] = "When the step fails for good: abort (default), continue, or goto:STEP.",
        ["step.queue"] = "Run the action on a worker of this task queue (`runbook worker --queue NAME`).",
        ["step.verify"] = "A condition that must hold after the action, polled with an action of its own; the step fails with VerifyFailed if it never does.",
        ["step.compensate"] = "The action that undoes this step if a later step fails the run.",
        ["approval.approvers"] = "Required: users (alice) and groups (group:sre-oncall) who may decide.",
        ["approval.min"] = "Distinct approvals needed, default 1.",
        ["approval.timeout"] = "How long to wait (a duration); without it the gate waits indefinitely.",
        ["approval.on_timeout"] = "reject (default: the step fails with ApprovalTimedOut) or approve. Requires timeout.",
        ["approval.four_eyes"] = "Default true: whoever started the run cannot decide its approval.",
        ["approval.message"] = "What the approver is asked; may contain expressions.",
        ["wait.condition"] = "The condition over the action's result (${{ result.status == 200 }}).",
        ["wait.interval"] = "How long between polls (a duration), default 10s.",
        ["wait.timeout"] = "Required: how long to poll before the step fails with WaitTimedOut (a duration).",
        ["retry.max_attempts"] = "Attempts in all, including the first; default 3 (0: no limit).",
        ["retry.initial_interval"] = "The wait before the second attempt (a duration), default 1s.",
        ["retry.backoff"] = "The factor the wait grows by after each attempt, default 2.0.",
        ["retry.max_interval"] = "The longest wait between attempts (a duration), default 1m.",
        ["retry.non_retryable"] = "Error kinds that are never retried (e.g. InvalidInput).",
        ["verify.action"] = "The action that reads the effect (e.g. prometheus, http).",
        ["verify.with"] = "That action's inputs; may refer to the step's result.",
        ["verify.condition"] = "The condition over the verify action's result that must come to hold.",
        ["verify.interval"] = "How long between polls (a duration).",
        ["verify.timeout"] = "How long to poll before the step fails with VerifyFailed (a duration).",
        ["compensate.action"] = "The action that undoes the step.",
        ["compensate.with"] = "Its inputs; may refer to the step's result.",
        ["compensate.retry"] = "How the compensation is retried.",
        ["compensate.timeout"] = "The limit on one attempt of the compensation (a duration).",
        ["trigger.source"] = "Only alerts from this source: alertmanager, grafana, pagerduty, azure-monitor, or a generic webhook's name. Default: any.",
        ["trigger.match"] = "Required: Alertmanager-style matchers that must all hold on the alert's labels: 'alertname = DiskFull', 'severity =~ critical|page', 'env != staging'.",
        ["trigger.inputs"] = "The runbook's inputs from the alert: ${{ alert.labels.NAME }}, ${{ alert.annotations.NAME }}, alert.fingerprint, ...",
        ["trigger.mode"] = "live (default), dry-run (the run only plans), or approval (it waits for an approval before its first action that changes anything).",
        ["trigger.approval"] = "Who approves the gates the engine adds to the runs this trigger starts.",
        ["trigger.destructive"] = "approve (default): a destructive action call first waits for an approval; allow: it runs unattended.",
        ["trigger.on_resolved"] = "record (default): the resolution goes in the run's timeline; cancel: also cancel a run still waiting for an approval.",
        ["gate.approvers"] = "Required: users and groups (group:NAME) who may approve.",
        ["gate.min"] = "Distinct approvals needed, default 1.",
        ["gate.timeout"] = "How long to wait (a duration).",
        ["gate.on_timeout"] = "reject (default) or approve.",
        ["guards.target"] = "The target, from the run's inputs (${{ inputs.host }}): the guard key is RUNBOOK/TARGET.",
        ["guards.max_live"] = "0 to 1000, default 1: a run is blocked while this many runs of the target are live.",
        ["guards.cooldown"] = "A duration: a run is blocked until this long after the last run of the target ended.",
        ["guards.rate"] = "At most max runs of the target started within per.",
        ["guards.breaker"] = "A circuit breaker: failures within window open it for open_for.",
        ["rate.max"] = "1 to 100000 runs.",
        ["rate.per"] = "The window (a duration).",
        ["breaker.failures"] = "1 to 1000 failures that open the breaker.",
        ["breaker.window"] = "The window the failures are counted in (a duration).",
        ["breaker.open_for"] = "How long the breaker stays open (a duration); then one run is let through (half-open).",
        ["breaker.count"] = "runs (default): failed runs count; steps: every step that failed for good counts.",
    };

    /// <summary>Builds the schema.</summary>
    /// <param name="actions">The actions whose <c>with:</c> keys it describes.</param>
    /// <returns>The schema (JSON Schema 2020-12).</returns>
    /// <exception cref="InvalidOperationException">A key the parser accepts has no description here.</exception>
    public static JsonObject Build(ActionCatalog actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        var duration = new JsonObject { ["type"] = "string", ["description"] = "A duration: 500ms, 30s, 5m, 1h, 1d, or combined as 1h30m." };
        var retry = Section("retry", RunbookParser.RetryKeys, new()
        {
            ["max_attempts"] = Number(0),
            ["initial_interval"] = duration.DeepClone(),
            ["backoff"] = Number(1),
            ["max_interval"] = duration.DeepClone(),
            ["non_retryable"] = Strings(),
        });
        var approvers = Strings();
        var definitions = new JsonObject
        {
            ["duration"] = duration,
            ["retry"] = retry,
            ["approval"] = Section("approval", RunbookParser.ApprovalKeys, new()
            {
                ["approvers"] = approvers.DeepClone(),
                ["min"] = Number(1),
                ["timeout"] = Ref("duration"),
                ["on_timeout"] = Enum("reject", "approve"),
                ["four_eyes"] = Boolean(),
                ["message"] = String(),
            }, "approvers"),
            ["input"] = Section("input", RunbookParser.InputKeys, new()
            {
                ["type"] = Enum("string", "number", "boolean", "enum", "list"),
                ["required"] = Boolean(),
                ["default"] = new JsonObject(),
                ["pattern"] = String(),
                ["values"] = new JsonObject { ["type"] = "array" },
                ["secret"] = Boolean(),
                ["description"] = String(),
            }),
            ["step"] = Step(actions),
            ["trigger"] = Section("trigger", RunbookParser.TriggerKeys, new()
            {
                ["source"] = String(),
                ["match"] = Strings(),
                ["inputs"] = new JsonObject { ["type"] = "object" },
                ["mode"] = Enum("live", "dry-run", "approval"),
                ["approval"] = Section("gate", RunbookParser.GateApprovalKeys, new()
                {
                    ["approvers"] = approvers.DeepClone(),
                    ["min"] = Number(1),
                    ["timeout"] = Ref("duration"),
                    ["on_timeout"] = Enum("reject", "approve"),
                }, "approvers"),
                ["destructive"] = Enum("approve", "allow"),
                ["on_resolved"] = Enum("record", "cancel"),
            }, "match"),
            ["guards"] = Section("guards", RunbookParser.GuardKeys, new()
            {
                ["target"] = String(),
                ["max_live"] = Number(0),
                ["cooldown"] = Ref("duration"),
                ["rate"] = Section("rate", RunbookParser.RateKeys, new() { ["max"] = Number(1), ["per"] = Ref("duration") }, "max", "per"),
                ["breaker"] = Section("breaker", RunbookParser.BreakerKeys, new()
                {
                    ["failures"] = Number(1),
                    ["window"] = Ref("duration"),
                    ["open_for"] = Ref("duration"),
                    ["count"] = Enum("runs", "steps"),
                }, "failures", "window", "open_for"),
            }),
        };
        foreach (var action in actions.All)
        {
            definitions["with-" + action.Name] = With(action);
        }

        var root = Section("root", RunbookParser.RootKeys, new()
        {
            ["name"] = new JsonObject { ["type"] = "string", ["pattern"] = "^[a-z0-9][a-z0-9-]*$" },
            ["description"] = String(),
            ["inputs"] = new JsonObject { ["type"] = "object", ["additionalProperties"] = Ref("input") },
            ["defaults"] = Defaults(actions),
            ["steps"] = new JsonObject { ["type"] = "array", ["minItems"] = 1, ["items"] = Ref("step") },
            ["outputs"] = new JsonObject { ["type"] = "object" },
            ["max_loops"] = Number(1),
            ["compensate_on"] = new JsonObject { ["type"] = "array", ["uniqueItems"] = true, ["items"] = new JsonObject { ["enum"] = new JsonArray("failure", "cancel") } },
            ["triggers"] = new JsonObject { ["type"] = "array", ["items"] = Ref("trigger") },
            ["guards"] = Ref("guards"),
        }, "name", "steps");
        var schema = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["title"] = "RunbookEngine runbook",
            ["description"] = "A YAML runbook of RunbookEngine (docs/runbook-reference.md). Generated by `runbook schema`; `runbook validate` is the authority.",
        };
        foreach (var (key, value) in root)
        {
            schema[key] = value?.DeepClone();
        }

        schema["$defs"] = definitions;
        return schema;
    }

    /// <summary>The schema as the text <c>runbook schema</c> prints and the checked-in file holds.</summary>
    /// <param name="actions">The actions.</param>
    /// <returns>Indented JSON with a final newline.</returns>
    public static string Text(ActionCatalog actions) => Build(actions).ToJsonString(Indented) + "\n";

    private static JsonObject Step(ActionCatalog actions)
    {
        var step = Section("step", RunbookParser.StepKeys, new()
        {
            ["id"] = new JsonObject { ["type"] = "string", ["pattern"] = "^[A-Za-z][A-Za-z0-9_-]*$" },
            ["description"] = String(),
            ["action"] = Enum([.. actions.All.Select(a => a.Name)]),
            ["with"] = new JsonObject { ["type"] = "object" },
            ["outputs"] = new JsonObject { ["type"] = "object" },
            ["when"] = new JsonObject { ["type"] = new JsonArray("string", "boolean") },
            ["approval"] = Ref("approval"),
            ["sleep"] = Ref("duration"),
            ["wait_until"] = Section("wait", RunbookParser.WaitKeys, new() { ["condition"] = String(), ["interval"] = Ref("duration"), ["timeout"] = Ref("duration") }, "condition", "timeout"),
            ["retry"] = Ref("retry"),
            ["timeout"] = Ref("duration"),
            ["total_timeout"] = Ref("duration"),
            ["on_failure"] = new JsonObject { ["type"] = "string", ["pattern"] = "^(abort|continue|goto:[A-Za-z][A-Za-z0-9_-]*)$" },
            ["queue"] = String(),
            ["verify"] = Section("verify", RunbookParser.VerifyKeys, new()
            {
                ["action"] = Enum([.. actions.All.Select(a => a.Name)]),
                ["with"] = new JsonObject { ["type"] = "object" },
                ["condition"] = String(),
                ["interval"] = Ref("duration"),
                ["timeout"] = Ref("duration"),
            }, "action", "condition"),
            ["compensate"] = Section("compensate", RunbookParser.CompensateKeys, new()
            {
                ["action"] = Enum([.. actions.All.Select(a => a.Name)]),
                ["with"] = new JsonObject { ["type"] = "object" },
                ["retry"] = Ref("retry"),
                ["timeout"] = Ref("duration"),
            }, "action"),
        }, "id");

        // A step's with: is checked against its action's declared keys.
        step["allOf"] = new JsonArray([.. actions.All.Select(a => (JsonNode)new JsonObject
        {
            ["if"] = new JsonObject { ["required"] = new JsonArray("action"), ["properties"] = new JsonObject { ["action"] = new JsonObject { ["const"] = a.Name } } },
            ["then"] = new JsonObject { ["properties"] = new JsonObject { ["with"] = Ref("with-" + a.Name) } },
        })]);
        return step;
    }

    /// <summary>defaults: per action, the keys of its with:, none of them required (a step may give the rest).</summary>
    private static JsonObject Defaults(ActionCatalog actions) => new()
    {
        ["type"] = "object",
        ["properties"] = new JsonObject(actions.All.Select(a =>
        {
            var with = With(a);
            with.Remove("required");
            return KeyValuePair.Create(a.Name, (JsonNode?)with);
        })),
        ["additionalProperties"] = false,
    };

    private static JsonObject With(IRunbookAction action)
    {
        var properties = new JsonObject();
        foreach (var p in action.Parameters)
        {
            var property = new JsonObject { ["description"] = p.Description };
            var types = p.Type switch
            {
                ParameterType.String => new JsonArray("string"),
                ParameterType.Number => new JsonArray("number", "string"),
                ParameterType.Boolean => new JsonArray("boolean", "string"),
                ParameterType.List => new JsonArray("array", "string"),
                ParameterType.Map => new JsonArray("object", "string"),
                ParameterType.StringOrList => new JsonArray("string", "array"),
                ParameterType.StringOrMap => new JsonArray("string", "object"),
                ParameterType.NumberOrList => new JsonArray("number", "array", "string"),
                ParameterType.File => new JsonArray("string"),
                _ => throw new InvalidOperationException($"no schema type for parameter type {p.Type}"),
            };
            property["type"] = types;
            if (p.AllowedValues is { Count: > 0 } allowed)
            {
                // Any case is accepted, and an expression may choose the value: listed for completion, not enforced.
                property["examples"] = new JsonArray([.. allowed.Select(v => JsonValue.Create(v))]);
            }

            properties[p.Name] = property;
        }

        return new JsonObject
        {
            ["type"] = "object",
            ["description"] = $"The inputs of the {action.Name} action: {action.Description}",
            ["properties"] = properties,
            ["required"] = new JsonArray([.. action.Parameters.Where(p => p.Required).Select(p => JsonValue.Create(p.Name))]),
            ["additionalProperties"] = false,
        };
    }

    /// <summary>An object whose keys are exactly the parser's, each with its description.</summary>
    private static JsonObject Section(string section, string[] keys, Dictionary<string, JsonNode> shapes, params string[] required)
    {
        var properties = new JsonObject();
        foreach (var key in keys)
        {
            if (!Descriptions.TryGetValue($"{section}.{key}", out var description))
            {
                throw new InvalidOperationException($"the parser accepts '{key}' in {section}, and the runbook schema has no description of it: add \"{section}.{key}\" to RunbookSchema.Descriptions");
            }

            if (!shapes.TryGetValue(key, out var shape))
            {
                throw new InvalidOperationException($"the parser accepts '{key}' in {section}, and the runbook schema has no shape for it");
            }

            var property = shape.DeepClone().AsObject();
            property["description"] = description;
            properties[key] = property;
        }

        var extra = shapes.Keys.Except(keys, StringComparer.Ordinal).ToList();
        if (extra.Count > 0)
        {
            throw new InvalidOperationException($"the runbook schema describes {string.Join(", ", extra)} in {section}, which the parser does not accept");
        }

        return new JsonObject
        {
            ["type"] = "object",
            ["properties"] = properties,
            ["required"] = new JsonArray([.. required.Select(r => JsonValue.Create(r))]),
            ["additionalProperties"] = false,
        };
    }

    private static JsonObject Ref(string name) => new() { ["$ref"] = "#/$defs/" + name };

    private static JsonObject String() => new() { ["type"] = "string" };

    private static JsonObject Strings() => new() { ["type"] = "array", ["items"] = String() };

    private static JsonObject Boolean() => new() { ["type"] = new JsonArray("boolean", "string") };

    private static JsonObject Number(int minimum) => new() { ["type"] = new JsonArray("number", "string"), ["minimum"] = minimum };

    private static JsonObject Enum(params string[] values) => new() { ["type"] = "string", ["enum"] = new JsonArray([.. values.Select(v => JsonValue.Create(v))]) };
}
