using System.Text.Json;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;

namespace RunbookEngine.Drills;

/// <summary>
/// The JSON Schema of drill files, for editors: every key the drill parser accepts, with what it means.
/// <c>runbook schema --drill</c> prints it; <c>schema/drill.schema.json</c> is it, checked in. Built from the
/// parser's own key lists, so a key added without a description here fails (and the test says which);
/// <c>runbook validate</c> stays the authority (steps of the runbook, durations, times).
/// </summary>
public static class DrillSchema
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static readonly Dictionary<string, string> Descriptions = new(StringComparer.Ordinal)
    {
        ["root.drill"] = "The drill's name, shown in reports.",
        ["root.description"] = "What happened in the incident, for people.",
        ["root.runbook"] = "The runbook replayed: a path relative to this file (.yaml, .yml, .csx), or a runbook name found in the runbook directories.",
        ["root.start"] = "The virtual time the drill starts at (ISO 8601, e.g. 2026-11-20T03:12:00Z); every time in the file counts from it.",
        ["root.horizon"] = "The most virtual time the drill covers (default 24h); a run still going then is reported as not ended.",
        ["root.alerts"] = "The alerts, routed through the runbook's triggers as real notifications would be.",
        ["root.run"] = "A run started by hand, as an on-call engineer would from the CLI.",
        ["root.steps"] = "How each step's calls are answered, by step id: one answer, or calls / verify / compensate / plan.",
        ["root.actions"] = "How calls of an action are answered when the step has no entry, by action name.",
        ["root.approvals"] = "Who decides the approvals the run asks for, and when.",
        ["root.faults"] = "Engine faults to inject: a worker killed during a step's call, the store unreachable for a while.",
        ["root.live"] = "How the drill runs as a live game day (runbook drill run --live): stop conditions, where Prometheus is, how often to check, how long to wait.",
        ["root.expect"] = "What must hold; each expectation is reported as passed or failed.",
        ["live.stop_conditions"] = "PromQL expressions checked while a live drill runs: when one returns any series, the drill stops and cancels its run (as AWS FIS stop conditions do).",
        ["live.prometheus"] = "The Prometheus the stop conditions ask (default RUNBOOK_PROMETHEUS_URL), e.g. http://127.0.0.1:9090.",
        ["live.poll"] = "How often the stop conditions and the run are checked (default 5s).",
        ["live.timeout"] = "The most a live drill waits for its run to end after its last alert (default 30m).",
        ["live.steps"] = "The steps whose actions run for real in a live drill; every other action step is answered from the scenario (steps:, actions:) as in a replay. Without it every action runs for real.",
        ["stop.promql"] = "The expression: it holds while it returns a series, e.g. sum(rate(http_requests_total{code=~\"5..\"}[1m])) > 5.",
        ["stop.name"] = "Its name in reports (default: the expression).",
        ["fault.worker_dies"] = "The step during whose call the worker running the run dies (as if killed with SIGKILL): nothing of the call is recorded, and a new worker recovers the run when the dead worker's lease (30s) expires.",
        ["fault.store_unreachable"] = "How long every read and write of the engine's store fails (e.g. 2m); give 'at' or 'during'.",
        ["fault.attempt"] = "Which attempt of the step's call the fault strikes (default 1).",
        ["fault.restart_after"] = "worker_dies: how long after the death a new worker starts (default 30s).",
        ["fault.at"] = "store_unreachable: when the outage starts, from start.",
        ["fault.during"] = "store_unreachable: the step whose call starts the outage (the call is answered, but its result cannot be recorded).",
        ["alert.source"] = "alertmanager (default), grafana, pagerduty or azure-monitor.",
        ["alert.name"] = "The alert's name (its alertname label).",
        ["alert.labels"] = "Its labels, which the triggers' matchers and inputs read.",
        ["alert.annotations"] = "Its annotations.",
        ["alert.fired"] = "When it started firing (its startsAt), from start; default 0s. MTTD and MTTR count from here.",
        ["alert.received"] = "When the engine received its first notification, from start; default: when it fired.",
        ["alert.repeat"] = "When it was notified again while firing (a list of times from start).",
        ["alert.resolved"] = "When it resolved, from start.",
        ["run.inputs"] = "The runbook's inputs; secret:// references stay references (a drill reads no secret).",
        ["run.actor"] = "Who starts it, kind:name (default user:drill).",
        ["run.dry_run"] = "true: the run only plans; each plan comes from the step's plan: or is made up from its inputs.",
        ["run.at"] = "When, from start (default 0s).",
        ["answer.respond"] = "The call returns this result object (what result. reads in the runbook).",
        ["answer.fail"] = "The call fails with this error kind, or { kind, message, non_retryable }; the step's retry: decides what follows.",
        ["answer.hang"] = "true: the call never returns; only the attempt's timeout (or a cancel) ends it.",
        ["answer.latency"] = "How long the call takes in virtual time; cut at the step's timeout like a slow target.",
        ["answer.times"] = "How many calls this answer serves before the next one (default 1); the last answer serves every call after it.",
        ["step.calls"] = "The answers to the step's action in order: every retry attempt and wait_until poll is a call.",
        ["step.verify"] = "The answers to the step's verify: polls.",
        ["step.compensate"] = "The answers to the step's compensate: action.",
        ["step.plan"] = "What a dry-run shows for the step: summary, operation, target, details.",
        ["fail.kind"] = "The error kind (ExitCode, HttpStatus, Timeout, ...).",
        ["fail.message"] = "The error message.",
        ["fail.non_retryable"] = "true: the failure is never retried.",
        ["approval.step"] = "The approval step's id, or STEP/approval for an alert gate; without it, the next request no other entry names.",
        ["approval.approve"] = "Who approves, kind:name (user:bob).",
        ["approval.reject"] = "Who rejects, kind:name.",
        ["approval.never"] = "true: nobody answers; the gate's timeout decides.",
        ["approval.groups"] = "The decider's groups, which the approvers rules check.",
        ["approval.after"] = "How long after the request the decision comes (default 0s).",
        ["approval.comment"] = "The decider's comment, recorded in the timeline.",
        ["expect.outcome"] = "How the run ends: completed, failed, cancelled or blocked.",
        ["expect.error_kind"] = "The failed run's error kind.",
        ["expect.alert"] = "How the first alert's routing ends: started, blocked, unmatched or invalid.",
        ["expect.guard"] = "The run's guard decision: allowed or blocked.",
        ["expect.steps_run"] = "Steps that must run.",
        ["expect.steps_skipped"] = "Steps that must be skipped (their when: false).",
        ["expect.no_unapproved_destructive"] = "Default true: no destructive call before an approval was granted.",
        ["expect.mttd"] = "The most the time from the alert firing to the run starting may be (15m or <= 15m).",
        ["expect.mttr"] = "The most the time from the alert firing to recovery (verified, run completed, or alert resolved) may be.",
        ["expect.alert_outcomes"] = "What each alert notification's routing ends in, in delivery order: started, blocked (a guard refused the run), attached (a repeat), resolved, cancelled, no_run, unmatched, invalid.",
        ["expect.attempts"] = "How many times each step's action must be called, by step id (every attempt counts, a call cut short by a fault too).",
        ["expect.calls"] = "The action calls the run must make, in order (what runbook drill record writes): any divergence fails the drill.",
        ["call.step"] = "The step that makes the call.",
        ["call.action"] = "The action it calls.",
        ["call.with"] = "The inputs it must be called with (omit for any).",
    };

    /// <summary>Builds the schema.</summary>
    /// <param name="actions">The actions an <c>actions:</c> entry may name.</param>
    /// <returns>The schema (JSON Schema 2020-12).</returns>
    public static JsonObject Build(ActionCatalog actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        var duration = new JsonObject { ["type"] = "string", ["description"] = "A duration from the drill's start or a length: 0s, 250ms, 30s, 5m, 2h, 1h30m." };
        var strings = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string" } };
        var answerProperties = new JsonObject
        {
            ["respond"] = new JsonObject { ["type"] = "object" },
            ["fail"] = new JsonObject { ["oneOf"] = new JsonArray(new JsonObject { ["type"] = "string" }, Ref("fail")) },
            ["hang"] = new JsonObject { ["const"] = true },
            ["latency"] = Ref("duration"),
            ["times"] = new JsonObject { ["type"] = "integer", ["minimum"] = 1, ["maximum"] = 10_000 },
        };
        var answer = Section("answer", DrillAnswer.Keys, answerProperties);
        answer["oneOf"] = new JsonArray([.. new[] { "respond", "fail", "hang" }.Select(k => (JsonNode)new JsonObject { ["required"] = new JsonArray(k) })]);
        var stepProperties = answerProperties.DeepClone().AsObject();
        stepProperties["calls"] = Ref("answers");
        stepProperties["verify"] = Ref("answers");
        stepProperties["compensate"] = Ref("answers");
        stepProperties["plan"] = new JsonObject { ["type"] = "object" };
        var definitions = new JsonObject
        {
            ["duration"] = duration,
            ["fail"] = Section("fail", DrillParser.FailKeys, new()
            {
                ["kind"] = new JsonObject { ["type"] = "string" },
                ["message"] = new JsonObject { ["type"] = "string" },
                ["non_retryable"] = new JsonObject { ["type"] = "boolean" },
            }, "kind"),
            ["answer"] = answer,
            ["answers"] = new JsonObject { ["oneOf"] = new JsonArray(Ref("answer"), new JsonObject { ["type"] = "array", ["minItems"] = 1, ["items"] = Ref("answer") }) },
            ["step"] = Section("step", DrillStepScript.Keys, stepProperties, prefix: k => DrillAnswer.Keys.Contains(k) ? "answer" : "step"),
            ["alert"] = Section("alert", DrillParser.AlertKeys, new()
            {
                ["source"] = Enum(DrillParser.Sources),
                ["name"] = new JsonObject { ["type"] = "string" },
                ["labels"] = new JsonObject { ["type"] = "object", ["additionalProperties"] = new JsonObject { ["type"] = "string" } },
                ["annotations"] = new JsonObject { ["type"] = "object", ["additionalProperties"] = new JsonObject { ["type"] = "string" } },
                ["fired"] = Ref("duration"),
                ["received"] = Ref("duration"),
                ["repeat"] = new JsonObject { ["type"] = "array", ["items"] = Ref("duration") },
                ["resolved"] = Ref("duration"),
            }),
            ["run"] = Section("run", DrillParser.RunKeys, new()
            {
                ["inputs"] = new JsonObject { ["type"] = "object" },
                ["actor"] = new JsonObject { ["type"] = "string", ["pattern"] = "^[^:]+:.+$" },
                ["dry_run"] = new JsonObject { ["type"] = "boolean" },
                ["at"] = Ref("duration"),
            }),
            ["approval"] = Section("approval", DrillApproval.Keys, new()
            {
                ["step"] = new JsonObject { ["type"] = "string" },
                ["approve"] = new JsonObject { ["type"] = "string", ["pattern"] = "^[^:]+:.+$" },
                ["reject"] = new JsonObject { ["type"] = "string", ["pattern"] = "^[^:]+:.+$" },
                ["never"] = new JsonObject { ["const"] = true },
                ["groups"] = strings.DeepClone(),
                ["after"] = Ref("duration"),
                ["comment"] = new JsonObject { ["type"] = "string" },
            }),
            ["call"] = Section("call", DrillExpectedCall.Keys, new()
            {
                ["step"] = new JsonObject { ["type"] = "string" },
                ["action"] = Enum([.. actions.All.Select(a => a.Name)]),
                ["with"] = new JsonObject { ["type"] = "object" },
            }, "step", "action"),
            ["fault"] = Section("fault", DrillFault.Keys, new()
            {
                ["worker_dies"] = new JsonObject { ["type"] = "string" },
                ["store_unreachable"] = Ref("duration"),
                ["attempt"] = new JsonObject { ["type"] = "integer", ["minimum"] = 1 },
                ["restart_after"] = Ref("duration"),
                ["at"] = Ref("duration"),
                ["during"] = new JsonObject { ["type"] = "string" },
            }),
            ["stop"] = Section("stop", DrillStopCondition.Keys, new()
            {
                ["promql"] = new JsonObject { ["type"] = "string", ["minLength"] = 1 },
                ["name"] = new JsonObject { ["type"] = "string" },
            }, "promql"),
            ["live"] = Section("live", DrillLive.Keys, new()
            {
                ["stop_conditions"] = new JsonObject { ["type"] = "array", ["items"] = Ref("stop") },
                ["prometheus"] = new JsonObject { ["type"] = "string", ["pattern"] = "^https?://" },
                ["poll"] = Ref("duration"),
                ["timeout"] = Ref("duration"),
                ["steps"] = strings.DeepClone(),
            }),
            ["expect"] = Section("expect", DrillExpectations.Keys, new()
            {
                ["outcome"] = Enum(DrillParser.Outcomes),
                ["error_kind"] = new JsonObject { ["type"] = "string" },
                ["alert"] = Enum(DrillParser.AlertOutcomes),
                ["guard"] = Enum(["allowed", "blocked"]),
                ["steps_run"] = strings.DeepClone(),
                ["steps_skipped"] = strings.DeepClone(),
                ["no_unapproved_destructive"] = new JsonObject { ["type"] = "boolean" },
                ["mttd"] = new JsonObject { ["type"] = "string", ["pattern"] = "^(<=\\s*)?[0-9]" },
                ["mttr"] = new JsonObject { ["type"] = "string", ["pattern"] = "^(<=\\s*)?[0-9]" },
                ["calls"] = new JsonObject { ["type"] = "array", ["items"] = Ref("call") },
                ["alert_outcomes"] = new JsonObject { ["type"] = "array", ["items"] = Enum(DrillParser.NotificationOutcomes) },
                ["attempts"] = new JsonObject { ["type"] = "object", ["additionalProperties"] = new JsonObject { ["type"] = "integer", ["minimum"] = 0 } },
            }),
        };
        definitions["fault"]!["oneOf"] = new JsonArray(
            new JsonObject { ["required"] = new JsonArray("worker_dies"), ["not"] = new JsonObject { ["anyOf"] = new JsonArray([.. new[] { "store_unreachable", "at", "during" }.Select(k => (JsonNode)new JsonObject { ["required"] = new JsonArray(k) })]) } },
            new JsonObject { ["required"] = new JsonArray("store_unreachable"), ["not"] = new JsonObject { ["required"] = new JsonArray("restart_after") }, ["oneOf"] = new JsonArray(new JsonObject { ["required"] = new JsonArray("at") }, new JsonObject { ["required"] = new JsonArray("during") }) });
        definitions["approval"]!["oneOf"] = new JsonArray([.. new[] { "approve", "reject", "never" }.Select(k => (JsonNode)new JsonObject { ["required"] = new JsonArray(k) })]);
        var root = Section("root", Drill.RootKeys, new()
        {
            ["drill"] = new JsonObject { ["type"] = "string" },
            ["description"] = new JsonObject { ["type"] = "string" },
            ["runbook"] = new JsonObject { ["type"] = "string" },
            ["start"] = new JsonObject { ["type"] = "string" },
            ["horizon"] = Ref("duration"),
            ["alerts"] = new JsonObject { ["type"] = "array", ["items"] = Ref("alert") },
            ["run"] = Ref("run"),
            ["steps"] = new JsonObject { ["type"] = "object", ["additionalProperties"] = Ref("step") },
            ["actions"] = new JsonObject
            {
                ["type"] = "object",
                ["propertyNames"] = Enum([.. actions.All.Select(a => a.Name)]),
                ["additionalProperties"] = Ref("answers"),
            },
            ["approvals"] = new JsonObject { ["type"] = "array", ["items"] = Ref("approval") },
            ["faults"] = new JsonObject { ["type"] = "array", ["items"] = Ref("fault") },
            ["live"] = Ref("live"),
            ["expect"] = Ref("expect"),
        }, "drill", "runbook", "expect");
        var schema = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["title"] = "RunbookEngine drill",
            ["description"] = "A game-day drill of RunbookEngine (docs/drills.md). Generated by `runbook schema --drill`; `runbook validate` is the authority.",
        };
        foreach (var (key, value) in root)
        {
            schema[key] = value?.DeepClone();
        }

        schema["$defs"] = definitions;
        return schema;
    }

    /// <summary>The schema as <c>runbook schema --drill</c> prints it and the checked-in file holds it.</summary>
    /// <param name="actions">The actions.</param>
    /// <returns>Indented JSON with a final newline.</returns>
    public static string Text(ActionCatalog actions) => Build(actions).ToJsonString(Indented) + "\n";

    private static JsonObject Ref(string name) => new() { ["$ref"] = "#/$defs/" + name };

    private static JsonObject Enum(IEnumerable<string> values) => new() { ["enum"] = new JsonArray([.. values.Select(v => JsonValue.Create(v))]) };

    private static JsonObject Section(string name, string[] keys, JsonObject properties, params string[] required) => Section(name, keys, properties, null, required);

    private static JsonObject Section(string name, string[] keys, JsonObject properties, Func<string, string>? prefix, params string[] required)
    {
        var described = new JsonObject();
        foreach (var key in keys)
        {
            var section = prefix?.Invoke(key) ?? name;
            if (!Descriptions.TryGetValue($"{section}.{key}", out var description))
            {
                throw new InvalidOperationException($"the drill schema has no description of '{section}.{key}'");
            }

            var property = properties[key]?.DeepClone().AsObject() ?? throw new InvalidOperationException($"the drill schema has no type for '{name}.{key}'");
            property["description"] = description;
            described[key] = property;
        }

        var result = new JsonObject { ["type"] = "object", ["properties"] = described, ["additionalProperties"] = false };
        if (required.Length > 0)
        {
            result["required"] = new JsonArray([.. required.Select(r => JsonValue.Create(r))]);
        }

        return result;
    }
}
