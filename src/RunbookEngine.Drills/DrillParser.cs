using System.Globalization;
using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Yaml;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Drills;

/// <summary>Reads a drill file and reports every problem at once, each at its <c>file:line:col</c>.</summary>
public sealed class DrillParser
{
    /// <summary>The file name ending that marks a drill.</summary>
    public const string Extension = ".drill.yaml";

    internal static readonly string[] AlertKeys = ["source", "name", "labels", "annotations", "fired", "received", "repeat", "resolved"];
    internal static readonly string[] RunKeys = ["inputs", "actor", "dry_run", "at"];
    internal static readonly string[] Sources = ["alertmanager", "grafana", "pagerduty", "azure-monitor"];
    internal static readonly string[] Outcomes = ["completed", "failed", "cancelled", "blocked"];
    internal static readonly string[] AlertOutcomes = ["started", "blocked", "unmatched", "invalid"];
    internal static readonly string[] NotificationOutcomes = ["started", "blocked", "attached", "resolved", "cancelled", "no_run", "unmatched", "invalid"];
    internal static readonly string[] FailKeys = ["kind", "message", "non_retryable"];
    internal static readonly string[] PlanKeys = ["summary", "operation", "target", "details"];

    private readonly ActionCatalog actions;
    private readonly List<RunbookDiagnostic> diagnostics = [];
    private YamlFields fields = new(string.Empty, []);

    /// <summary>Initializes a new instance of the <see cref="DrillParser"/> class.</summary>
    /// <param name="actions">The actions an <c>actions:</c> entry may name.</param>
    public DrillParser(ActionCatalog actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        this.actions = actions;
    }

    /// <summary>Whether a path names a drill file.</summary>
    /// <param name="path">The path.</param>
    /// <returns>Whether it ends in <c>.drill.yaml</c> or <c>.drill.yml</c>.</returns>
    public static bool IsDrillFile(string path) =>
        path is not null && (path.EndsWith(Extension, StringComparison.OrdinalIgnoreCase) || path.EndsWith(".drill.yml", StringComparison.OrdinalIgnoreCase));

    /// <summary>Parses a drill.</summary>
    /// <param name="file">The file, as shown in messages.</param>
    /// <param name="source">The YAML text.</param>
    /// <returns>The drill (null when there are problems) and every problem, in file order.</returns>
    public (Drill? Drill, IReadOnlyList<RunbookDiagnostic> Diagnostics) Parse(string file, string source)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(source);
        diagnostics.Clear();
        fields = new YamlFields(file, diagnostics);
        var drill = ParseRoot(file, source);
        var ordered = diagnostics.OrderBy(d => d.Location.Line).ThenBy(d => d.Location.Column).ToList();
        return (ordered.TrueForAll(d => d.Warning) ? drill : null, ordered);
    }

    /// <summary>Checks a drill against the runbook it replays: the steps it names must exist.</summary>
    /// <param name="drill">The drill.</param>
    /// <param name="runbook">The runbook.</param>
    /// <returns>The problems, at the drill's lines.</returns>
    public static IReadOnlyList<RunbookDiagnostic> Check(Drill drill, Runbook runbook)
    {
        ArgumentNullException.ThrowIfNull(drill);
        ArgumentNullException.ThrowIfNull(runbook);
        if (runbook.Language == RunbookLanguage.Script)
        {
            // A script's steps are named by its code as it runs: nothing to check them against before.
            return [];
        }

        var ids = runbook.Steps.Select(s => s.Id).ToList();
        var problems = new List<RunbookDiagnostic>();
        void Known(string id, SourceLocation at, string what)
        {
            var bare = id.EndsWith("/approval", StringComparison.Ordinal) ? id[..^"/approval".Length] : id;
            if (!ids.Contains(bare, StringComparer.Ordinal))
            {
                problems.Add(new(at, $"{what} '{id}': runbook '{runbook.Name}' has no step '{bare}'{YamlFields.Hint(YamlFields.DidYouMean(bare, ids))}; its steps: {string.Join(", ", ids)}"));
            }
        }

        foreach (var script in drill.Steps.Values)
        {
            Known(script.Step, script.At, "steps:");
        }

        foreach (var (step, at) in drill.Expect.StepsRun.Concat(drill.Expect.StepsSkipped))
        {
            Known(step, at, "expected step");
        }

        foreach (var approval in drill.Approvals.Where(a => a.Step is not null))
        {
            Known(approval.Step!, approval.At, "approval of step");
        }

        foreach (var fault in drill.Faults.Where(f => f.Step is not null))
        {
            Known(fault.Step!, fault.Location, fault.Kind == DrillFaultKind.WorkerDies ? "worker_dies during step" : "store_unreachable during step");
        }

        foreach (var (step, _, at) in drill.Expect.Attempts)
        {
            Known(step, at, "attempts of step");
        }

        foreach (var (step, at) in drill.Live.Steps ?? [])
        {
            Known(step, at, "live step");
        }

        if (drill.Run is not null)
        {
            foreach (var name in drill.Run.Inputs.Select(i => i.Key).Where(k => !runbook.Inputs.Any(i => i.Name == k)))
            {
                problems.Add(new(drill.Run.Location, $"run.inputs: runbook '{runbook.Name}' has no input '{name}'{YamlFields.Hint(YamlFields.DidYouMean(name, runbook.Inputs.Select(i => i.Name)))}"));
            }
        }

        return problems;
    }

    private Drill? ParseRoot(string file, string source)
    {
        if (fields.LoadMapping(source, "a drill", "'drill', 'runbook' and 'expect'", "'drill', 'runbook', 'alerts' or 'run', 'steps', 'approvals' and 'expect'") is not { } root)
        {
            return null;
        }

        var map = fields.Keys(root, Drill.RootKeys, "a drill");
        var name = Required(root, map, "drill", "the drill's name, e.g. drill: disk-full-on-web-1");
        var runbook = Required(root, map, "runbook", "the runbook it replays: a path relative to this file or a runbook name");
        var start = Drill.DefaultStart;
        if (map.TryGetValue("start", out var s) && fields.RequireString(s, "start") is { } text)
        {
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                start = at.ToUniversalTime();
            }
            else
            {
                fields.Error(s, $"'start' must be a time like 2026-11-20T03:12:00Z, not '{text}'");
            }
        }

        var horizon = map.TryGetValue("horizon", out var h) ? fields.RequireDuration(h, "horizon") ?? TimeSpan.FromHours(24) : TimeSpan.FromHours(24);
        var alerts = map.TryGetValue("alerts", out var a) ? ParseAlerts(a) : [];
        var run = map.TryGetValue("run", out var r) ? ParseRun(r) : null;
        if (alerts.Count == 0 && run is null && !map.ContainsKey("alerts") && !map.ContainsKey("run"))
        {
            fields.Error(root, "a drill needs 'alerts' (what fired) or 'run' (a run started by hand), or both");
        }

        var steps = new Dictionary<string, DrillStepScript>(StringComparer.Ordinal);
        if (map.TryGetValue("steps", out var st))
        {
            foreach (var (id, value, keyNode) in fields.Entries(st, "steps"))
            {
                if (ParseStepScript(id, value, fields.Loc(keyNode)) is { } script)
                {
                    steps[id] = script;
                }
            }
        }

        var byAction = new Dictionary<string, DrillAnswers>(StringComparer.Ordinal);
        if (map.TryGetValue("actions", out var ac))
        {
            foreach (var (action, value, keyNode) in fields.Entries(ac, "actions"))
            {
                if (!actions.TryGet(action, out _))
                {
                    var known = actions.All.Select(x => x.Name).ToList();
                    fields.Error(keyNode, $"unknown action '{action}' in 'actions'{YamlFields.Hint(YamlFields.DidYouMean(action, known))}; actions: {string.Join(", ", known)}");
                    continue;
                }

                if (ParseAnswers(value, $"actions.{action}") is { } answers)
                {
                    byAction[action] = answers;
                }
            }
        }

        var approvals = map.TryGetValue("approvals", out var ap) ? ParseApprovals(ap) : [];
        var faults = map.TryGetValue("faults", out var fa) ? ParseFaults(fa) : [];
        var live = map.TryGetValue("live", out var lv) ? ParseLive(lv) : DrillLive.Default;
        DrillExpectations? expect = null;
        if (map.TryGetValue("expect", out var ex))
        {
            expect = ParseExpectations(ex);
        }
        else
        {
            fields.Error(root, "missing 'expect': say what must hold, e.g. expect: { outcome: completed, mttr: 15m }");
        }

        if (name is null || runbook is null || expect is null)
        {
            return null;
        }

        return new Drill
        {
            Name = name,
            Description = map.TryGetValue("description", out var d) ? fields.RequireString(d, "description") : null,
            File = file,
            Runbook = runbook,
            RunbookAt = fields.Loc(map["runbook"]),
            Start = start,
            Horizon = horizon,
            Alerts = alerts,
            Run = run,
            Steps = steps,
            Actions = byAction,
            Approvals = approvals,
            Faults = faults,
            Live = live,
            Expect = expect,
        };
    }

    private string? Required(YamlMappingNode root, Dictionary<string, YamlNode> map, string key, string what)
    {
        if (!map.TryGetValue(key, out var node))
        {
            fields.Error(root, $"missing '{key}': {what}");
            return null;
        }

        return fields.RequireString(node, key);
    }

    private List<DrillAlert> ParseAlerts(YamlNode node)
    {
        var result = new List<DrillAlert>();
        foreach (var m in fields.Mappings(
            node,
            "'alerts' must be a list of alerts, e.g. - { name: DiskFull, labels: { instance: web-1 }, fired: 0s }",
            "an alert is a mapping with 'name' or 'labels', and optionally 'fired', 'received', 'repeat', 'resolved'"))
        {
            var keys = fields.Keys(m, AlertKeys, "an alert");
            var source = "alertmanager";
            if (keys.TryGetValue("source", out var s) && fields.RequireString(s, "source") is { } written)
            {
                if (Sources.Contains(written, StringComparer.Ordinal))
                {
                    source = written;
                }
                else
                {
                    fields.Error(s, $"unknown alert source '{written}'{YamlFields.Hint(YamlFields.DidYouMean(written, Sources))}; sources: {string.Join(", ", Sources)}");
                }
            }

            var labels = keys.TryGetValue("labels", out var l) ? StringMap(l, "labels") : new Dictionary<string, string>(StringComparer.Ordinal);
            if (keys.TryGetValue("name", out var n) && fields.RequireString(n, "name") is { } alertName)
            {
                labels["alertname"] = alertName;
            }

            if (!labels.ContainsKey("alertname"))
            {
                fields.Error(m, "an alert needs a name: 'name: DiskFull' or an 'alertname' label");
            }

            var fired = Offset(keys, "fired") ?? TimeSpan.Zero;
            var received = Offset(keys, "received") ?? fired;
            if (received < fired)
            {
                fields.Error(keys["received"], $"'received' ({Workflows.Durations.Format(received)}) is before 'fired' ({Workflows.Durations.Format(fired)}): an alert reaches the engine after it fires");
            }

            var repeats = new List<TimeSpan>();
            if (keys.TryGetValue("repeat", out var rep))
            {
                if (rep is YamlSequenceNode times)
                {
                    repeats.AddRange(times.Children.Select(t => fields.RequireDuration(t, "repeat", allowZero: true)).OfType<TimeSpan>());
                }
                else
                {
                    fields.Error(rep, "'repeat' must be a list of times, e.g. repeat: [5m, 10m]");
                }
            }

            var resolved = Offset(keys, "resolved");
            if (resolved is { } rs && rs < fired)
            {
                fields.Error(keys["resolved"], "'resolved' is before 'fired'");
            }

            result.Add(new DrillAlert(source, labels, keys.TryGetValue("annotations", out var an) ? StringMap(an, "annotations") : new Dictionary<string, string>(StringComparer.Ordinal), fired, received, repeats, resolved, fields.Loc(m)));
        }

        return result;
    }

    private TimeSpan? Offset(Dictionary<string, YamlNode> keys, string key) =>
        keys.TryGetValue(key, out var node) ? fields.RequireDuration(node, key, allowZero: true) : null;

    private Dictionary<string, string> StringMap(YamlNode node, string what)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value, _) in fields.Entries(node, what))
        {
            if (value is YamlScalarNode { Value: { } v })
            {
                result[key] = v;
            }
            else
            {
                fields.Error(value, $"'{what}.{key}' must be a string");
            }
        }

        return result;
    }

    private DrillRun? ParseRun(YamlNode node)
    {
        if (node is not YamlMappingNode m)
        {
            fields.Error(node, "'run' is a mapping: { inputs: {...}, actor: user:alice, dry_run: false, at: 0s }");
            return null;
        }

        var keys = fields.Keys(m, RunKeys, "'run'");
        var inputs = keys.TryGetValue("inputs", out var i) ? YamlFields.ScalarOrTree(i) as JsonObject : [];
        if (inputs is null)
        {
            fields.Error(keys["inputs"], "'run.inputs' must be a mapping of input names to values");
            inputs = [];
        }

        var actor = keys.TryGetValue("actor", out var a) ? fields.RequireString(a, "actor") ?? "user:drill" : "user:drill";
        if (!actor.Contains(':', StringComparison.Ordinal))
        {
            fields.Error(keys["actor"], $"'actor' must be kind:name, e.g. user:{actor}");
        }

        var dryRun = keys.TryGetValue("dry_run", out var dr) && (fields.RequireBool(dr, "dry_run") ?? false);
        return new DrillRun(inputs, actor, dryRun, Offset(keys, "at") ?? TimeSpan.Zero, fields.Loc(m));
    }

    private DrillStepScript? ParseStepScript(string id, YamlNode node, SourceLocation at)
    {
        if (node is not YamlMappingNode m)
        {
            fields.Error(node, $"'steps.{id}' is a mapping: an answer ({{ respond: {{...}} }}, {{ fail: Kind }}, {{ hang: true }}) or 'calls', 'verify', 'compensate', 'plan'");
            return null;
        }

        var keys = fields.Keys(m, DrillStepScript.Keys, $"'steps.{id}'");
        var shorthand = keys.Keys.Where(k => DrillAnswer.Keys.Contains(k)).ToList();
        DrillAnswers? calls = null;
        if (keys.TryGetValue("calls", out var c))
        {
            if (shorthand.Count > 0)
            {
                fields.Error(keys[shorthand[0]], $"'steps.{id}' has both 'calls' and '{shorthand[0]}': put every answer in 'calls'");
            }

            calls = ParseAnswers(c, $"steps.{id}.calls");
        }
        else if (shorthand.Count > 0)
        {
            calls = ParseAnswer(m, keys, $"steps.{id}") is { } one ? new DrillAnswers([one], fields.Loc(m)) : null;
        }

        var verify = keys.TryGetValue("verify", out var v) ? ParseAnswers(v, $"steps.{id}.verify") : null;
        var compensate = keys.TryGetValue("compensate", out var cp) ? ParseAnswers(cp, $"steps.{id}.compensate") : null;
        JsonObject? plan = null;
        if (keys.TryGetValue("plan", out var p))
        {
            plan = YamlFields.ScalarOrTree(p) as JsonObject;
            if (plan is null)
            {
                fields.Error(p, $"'steps.{id}.plan' must be a mapping, e.g. {{ summary: would delete 12 files }}");
            }
            else if (p is YamlMappingNode pm)
            {
                var pk = fields.Keys(pm, PlanKeys, $"'steps.{id}.plan'");
                var bad = false;
                foreach (var key in new[] { "summary", "operation", "target" }.Where(pk.ContainsKey))
                {
                    if (pk[key] is YamlScalarNode text)
                    {
                        plan[key] = text.Value; // as written: a summary of digits stays text
                    }
                    else
                    {
                        fields.Error(pk[key], $"'steps.{id}.plan.{key}' must be a string");
                        bad = true;
                    }
                }

                if (pk.TryGetValue("details", out var details) && details is not YamlMappingNode)
                {
                    fields.Error(details, $"'steps.{id}.plan.details' must be a mapping");
                    bad = true;
                }

                plan = bad ? null : plan;
            }
        }

        if (keys.Count == 0 && m.Children.Count == 0)
        {
            fields.Error(m, $"'steps.{id}' says nothing: give an answer (respond, fail, hang) or 'calls', 'verify', 'compensate', 'plan'");
        }

        return new DrillStepScript(id, calls, verify, compensate, plan, at);
    }

    private DrillAnswers? ParseAnswers(YamlNode node, string what)
    {
        if (node is YamlSequenceNode seq)
        {
            if (seq.Children.Count == 0)
            {
                fields.Error(node, $"'{what}' is empty: give at least one answer");
                return null;
            }

            var items = new List<DrillAnswer>();
            foreach (var item in seq.Children)
            {
                if (item is YamlMappingNode im && ParseAnswer(im, fields.Keys(im, DrillAnswer.Keys, $"an answer in '{what}'"), what) is { } answer)
                {
                    items.Add(answer);
                }
                else if (item is not YamlMappingNode)
                {
                    fields.Error(item, $"an answer in '{what}' is a mapping: {{ respond: {{...}} }}, {{ fail: Kind }} or {{ hang: true }}");
                }
            }

            return items.Count == seq.Children.Count ? new DrillAnswers(items, fields.Loc(node)) : null;
        }

        if (node is YamlMappingNode m)
        {
            return ParseAnswer(m, fields.Keys(m, DrillAnswer.Keys, $"'{what}'"), what) is { } one ? new DrillAnswers([one], fields.Loc(m)) : null;
        }

        fields.Error(node, $"'{what}' is an answer ({{ respond: {{...}} }}, {{ fail: Kind }}, {{ hang: true }}) or a list of them");
        return null;
    }

    private DrillAnswer? ParseAnswer(YamlMappingNode node, Dictionary<string, YamlNode> keys, string what)
    {
        var given = new[] { "respond", "fail", "hang" }.Where(keys.ContainsKey).ToList();
        if (given.Count != 1)
        {
            fields.Error(node, given.Count == 0
                ? $"an answer in '{what}' needs one of 'respond' (the result), 'fail' (an error kind) or 'hang: true'"
                : $"an answer in '{what}' has both '{given[0]}' and '{given[1]}': one call gives one answer (list several under 'calls')");
            return null;
        }

        var latency = keys.TryGetValue("latency", out var l) ? fields.RequireDuration(l, "latency", allowZero: true) ?? TimeSpan.Zero : TimeSpan.Zero;
        var times = keys.TryGetValue("times", out var t) ? fields.RequireInt(t, "times", 1, 10_000) ?? 1 : 1;
        var at = fields.Loc(node);
        switch (given[0])
        {
            case "respond":
                if (YamlFields.ScalarOrTree(keys["respond"]) is JsonObject result)
                {
                    return new DrillAnswer(result, null, null, false, false, latency, times, at);
                }

                fields.Error(keys["respond"], $"'respond' in '{what}' must be the action's result object, e.g. respond: {{ exit_code: 0, stdout: \"91%\" }}");
                return null;
            case "fail":
                var fail = keys["fail"];
                if (fail is YamlScalarNode && fields.RequireString(fail, "fail") is { } kind)
                {
                    return new DrillAnswer(null, kind, $"{kind} (drill)", false, false, latency, times, at);
                }

                if (fail is YamlMappingNode fm)
                {
                    var fk = fields.Keys(fm, FailKeys, "'fail'");
                    var k = fk.TryGetValue("kind", out var kn) ? fields.RequireString(kn, "kind") : null;
                    if (k is null)
                    {
                        fields.Error(fm, "'fail' needs 'kind', the error kind, e.g. { kind: ExitCode, message: \"exit 1\" }");
                        return null;
                    }

                    var message = fk.TryGetValue("message", out var mn) ? fields.RequireString(mn, "message") : null;
                    var nonRetryable = fk.TryGetValue("non_retryable", out var nr) && (fields.RequireBool(nr, "non_retryable") ?? false);
                    return new DrillAnswer(null, k, message ?? $"{k} (drill)", nonRetryable, false, latency, times, at);
                }

                fields.Error(fail, "'fail' is an error kind (fail: ExitCode) or { kind, message, non_retryable }");
                return null;
            default:
                if (fields.RequireBool(keys["hang"], "hang") is not true)
                {
                    fields.Error(keys["hang"], "'hang' can only be true (leave it out for a call that returns)");
                    return null;
                }

                return new DrillAnswer(null, null, null, false, true, latency, times, at);
        }
    }

    private List<DrillApproval> ParseApprovals(YamlNode node)
    {
        var result = new List<DrillApproval>();
        foreach (var m in fields.Mappings(
            node,
            "'approvals' must be a list, e.g. - { step: approve, approve: user:bob, groups: [sre-oncall], after: 4m }",
            "an approval is a mapping: { step, approve: WHO | reject: WHO | never: true, groups, after, comment }"))
        {
            var keys = fields.Keys(m, DrillApproval.Keys, "an approval");
            var decided = new[] { "approve", "reject", "never" }.Where(keys.ContainsKey).ToList();
            if (decided.Count != 1)
            {
                fields.Error(m, decided.Count == 0 ? "an approval needs 'approve: WHO', 'reject: WHO' or 'never: true'" : $"an approval has both '{decided[0]}' and '{decided[1]}'");
                continue;
            }

            bool? approve = decided[0] switch { "approve" => true, "reject" => false, _ => null };
            var by = "user:nobody";
            if (approve is not null)
            {
                by = fields.RequireString(keys[decided[0]], decided[0]) ?? by;
                if (!by.Contains(':', StringComparison.Ordinal))
                {
                    fields.Error(keys[decided[0]], $"who decides is kind:name, e.g. user:{by}");
                }
            }
            else if (fields.RequireBool(keys["never"], "never") is not true)
            {
                fields.Error(keys["never"], "'never' can only be true");
            }

            var groups = new List<string>();
            if (keys.TryGetValue("groups", out var g))
            {
                if (g is YamlSequenceNode gs)
                {
                    groups.AddRange(gs.Children.Select(x => fields.RequireString(x, "groups")).OfType<string>());
                }
                else
                {
                    fields.Error(g, "'groups' must be a list, e.g. groups: [sre-oncall]");
                }
            }

            result.Add(new DrillApproval(
                keys.TryGetValue("step", out var s) ? fields.RequireString(s, "step") : null,
                approve,
                by,
                groups,
                Offset(keys, "after") ?? TimeSpan.Zero,
                keys.TryGetValue("comment", out var c) ? fields.RequireString(c, "comment") : null,
                fields.Loc(m)));
        }

        return result;
    }

    private List<DrillFault> ParseFaults(YamlNode node)
    {
        var result = new List<DrillFault>();
        foreach (var m in fields.Mappings(
            node,
            "'faults' must be a list, e.g. - { worker_dies: restart } or - { store_unreachable: 2m, at: 5m }",
            "a fault is a mapping: { worker_dies: STEP, attempt, restart_after } or { store_unreachable: DURATION, at | during, attempt }"))
        {
            var keys = fields.Keys(m, DrillFault.Keys, "a fault");
            var kinds = new[] { "worker_dies", "store_unreachable" }.Where(keys.ContainsKey).ToList();
            if (kinds.Count != 1)
            {
                fields.Error(m, kinds.Count == 0
                    ? "a fault needs 'worker_dies: STEP' (the worker dies during that step's call) or 'store_unreachable: DURATION' (the store is down that long)"
                    : "a fault has both 'worker_dies' and 'store_unreachable': write one fault per entry");
                continue;
            }

            var attempt = keys.TryGetValue("attempt", out var a) ? fields.RequireInt(a, "attempt", 1, 1_000) ?? 1 : 1;
            if (kinds[0] == "worker_dies")
            {
                foreach (var key in new[] { "at", "during" }.Where(keys.ContainsKey))
                {
                    fields.Error(keys[key], $"'{key}' is for store_unreachable: a worker dies during the step named by 'worker_dies'");
                }

                var step = fields.RequireString(keys["worker_dies"], "worker_dies");
                var restart = keys.TryGetValue("restart_after", out var r) ? fields.RequireDuration(r, "restart_after", allowZero: true) ?? DrillFault.DefaultRestartAfter : DrillFault.DefaultRestartAfter;
                if (step is not null)
                {
                    result.Add(new DrillFault(DrillFaultKind.WorkerDies, step, attempt, null, restart, fields.Loc(m)));
                }

                continue;
            }

            if (keys.TryGetValue("restart_after", out var ra))
            {
                fields.Error(ra, "'restart_after' is for worker_dies: the store comes back by itself when 'store_unreachable' has passed");
            }

            var duration = fields.RequireDuration(keys["store_unreachable"], "store_unreachable");
            var when = new[] { "at", "during" }.Where(keys.ContainsKey).ToList();
            if (when.Count != 1)
            {
                fields.Error(m, when.Count == 0
                    ? "a store outage needs 'at: TIME' (from the drill's start) or 'during: STEP' (when that step's call arrives)"
                    : "a store outage has both 'at' and 'during': give one");
                continue;
            }

            if (when[0] == "at")
            {
                if (keys.ContainsKey("attempt"))
                {
                    fields.Error(keys["attempt"], "'attempt' goes with 'during: STEP'");
                }

                if (Offset(keys, "at") is { } at && duration is { } d)
                {
                    result.Add(new DrillFault(DrillFaultKind.StoreUnreachable, null, 1, at, d, fields.Loc(m)));
                }
            }
            else if (fields.RequireString(keys["during"], "during") is { } during && duration is { } d)
            {
                result.Add(new DrillFault(DrillFaultKind.StoreUnreachable, during, attempt, null, d, fields.Loc(m)));
            }
        }

        return result;
    }

    private DrillLive ParseLive(YamlNode node)
    {
        if (node is not YamlMappingNode m)
        {
            fields.Error(node, "'live' is a mapping: { stop_conditions: [{ promql: ... }], prometheus: URL, poll: 5s, timeout: 30m }");
            return DrillLive.Default;
        }

        var keys = fields.Keys(m, DrillLive.Keys, "'live'");
        var conditions = new List<DrillStopCondition>();
        if (keys.TryGetValue("stop_conditions", out var sc))
        {
            foreach (var c in fields.Mappings(sc, "'stop_conditions' must be a list, e.g. - { promql: 'sum(rate(http_errors_total[1m])) > 5' }", "a stop condition is a mapping: { promql: EXPRESSION, name: NAME }"))
            {
                var ck = fields.Keys(c, DrillStopCondition.Keys, "a stop condition");
                var promql = ck.TryGetValue("promql", out var p) ? fields.RequireString(p, "promql") : null;
                if (!ck.ContainsKey("promql"))
                {
                    fields.Error(c, "a stop condition needs 'promql': an expression that returns a series while the drill must stop, e.g. up{job=\"api\"} == 0");
                }

                if (promql is not null)
                {
                    var name = ck.TryGetValue("name", out var n) ? fields.RequireString(n, "name") ?? promql : promql;
                    conditions.Add(new DrillStopCondition(name, promql, fields.Loc(c)));
                }
            }
        }

        string? prometheus = null;
        if (keys.TryGetValue("prometheus", out var pr) && fields.RequireString(pr, "prometheus") is { } url)
        {
            if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            {
                prometheus = url.TrimEnd('/');
            }
            else
            {
                fields.Error(pr, $"'prometheus' must be an http(s) URL like http://127.0.0.1:9090, not '{url}'");
            }
        }

        var poll = keys.TryGetValue("poll", out var po) ? fields.RequireDuration(po, "poll") ?? DrillLive.Default.Poll : DrillLive.Default.Poll;
        var timeout = keys.TryGetValue("timeout", out var to) ? fields.RequireDuration(to, "timeout") ?? DrillLive.Default.Timeout : DrillLive.Default.Timeout;
        List<(string, SourceLocation)>? steps = null;
        if (keys.TryGetValue("steps", out var st))
        {
            steps = [];
            if (st is YamlSequenceNode seq)
            {
                foreach (var item in seq.Children)
                {
                    if (fields.RequireString(item, "live.steps") is { } id)
                    {
                        steps.Add((id, fields.Loc(item)));
                    }
                }
            }
            else
            {
                fields.Error(st, "'live.steps' must be a list of the step ids whose actions run for real, e.g. steps: [restart]; every other step is answered from the scenario");
            }
        }

        return new DrillLive(conditions, prometheus, poll, timeout, fields.Loc(m), steps);
    }

    private DrillExpectations? ParseExpectations(YamlNode node)
    {
        if (node is not YamlMappingNode m)
        {
            fields.Error(node, "'expect' is a mapping, e.g. { outcome: completed, steps_run: [clean], mttr: 15m }");
            return null;
        }

        var keys = fields.Keys(m, DrillExpectations.Keys, "'expect'");
        if (keys.Count == 0 && m.Children.Count == 0)
        {
            fields.Error(m, $"'expect' is empty: say what must hold ({string.Join(", ", DrillExpectations.Keys)})");
        }

        string? OneOf(string key, string[] allowed)
        {
            if (!keys.TryGetValue(key, out var n) || fields.RequireString(n, key) is not { } v)
            {
                return null;
            }

            if (!allowed.Contains(v, StringComparer.Ordinal))
            {
                fields.Error(n, $"'{key}' must be {string.Join(", ", allowed)}{YamlFields.Hint(YamlFields.DidYouMean(v, allowed))}");
                return null;
            }

            return v;
        }

        List<(string, SourceLocation)> Steps(string key)
        {
            var list = new List<(string, SourceLocation)>();
            if (!keys.TryGetValue(key, out var n))
            {
                return list;
            }

            if (n is not YamlSequenceNode seq)
            {
                fields.Error(n, $"'{key}' must be a list of step ids, e.g. {key}: [measure, clean]");
                return list;
            }

            foreach (var item in seq.Children)
            {
                if (fields.RequireString(item, key) is { } id)
                {
                    list.Add((id, fields.Loc(item)));
                }
            }

            return list;
        }

        TimeSpan? Max(string key)
        {
            if (!keys.TryGetValue(key, out var n))
            {
                return null;
            }

            // Written "15m" or "<= 15m": the most it may be.
            if (n is YamlScalarNode { Value: { } v } && v.TrimStart().StartsWith("<=", StringComparison.Ordinal))
            {
                return Workflows.Durations.TryParse(v.TrimStart()[2..], out var d) && d > TimeSpan.Zero ? d : Bad();
            }

            return fields.RequireDuration(n, key);

            TimeSpan? Bad()
            {
                fields.Error(n, $"'{key}' must be a duration like 15m (or <= 15m)");
                return null;
            }
        }

        List<DrillExpectedCall>? calls = null;
        if (keys.TryGetValue("calls", out var callsNode))
        {
            calls = [];
            foreach (var cm in fields.Mappings(callsNode, "'calls' must be a list, e.g. - { step: clean, action: shell, with: { command: [...] } }", "an expected call is a mapping: { step, action, with }"))
            {
                var ck = fields.Keys(cm, DrillExpectedCall.Keys, "an expected call");
                var step = ck.TryGetValue("step", out var sn) ? fields.RequireString(sn, "step") : null;
                var action = ck.TryGetValue("action", out var an) ? fields.RequireString(an, "action") : null;
                if (step is null || action is null)
                {
                    fields.Error(cm, "an expected call needs 'step' and 'action'");
                    continue;
                }

                JsonObject? with = null;
                if (ck.TryGetValue("with", out var wn) && (with = YamlFields.ScalarOrTree(wn) as JsonObject) is null)
                {
                    fields.Error(wn, "'with' must be a mapping of the call's inputs");
                }

                calls.Add(new DrillExpectedCall(step, action, with, fields.Loc(cm)));
            }
        }

        List<string>? notified = null;
        if (keys.TryGetValue("alert_outcomes", out var ao))
        {
            notified = [];
            if (ao is YamlSequenceNode outcomes)
            {
                foreach (var item in outcomes.Children)
                {
                    if (fields.RequireString(item, "alert_outcomes") is { } o)
                    {
                        if (NotificationOutcomes.Contains(o, StringComparer.Ordinal))
                        {
                            notified.Add(o);
                        }
                        else
                        {
                            fields.Error(item, $"an alert outcome is one of {string.Join(", ", NotificationOutcomes)}{YamlFields.Hint(YamlFields.DidYouMean(o, NotificationOutcomes))}");
                        }
                    }
                }
            }
            else
            {
                fields.Error(ao, "'alert_outcomes' must be a list, one per notification in delivery order, e.g. [started, attached, blocked]");
            }
        }

        var attempts = new List<(string, int, SourceLocation)>();
        if (keys.TryGetValue("attempts", out var at))
        {
            foreach (var (step, value, keyNode) in fields.Entries(at, "attempts"))
            {
                if (fields.RequireInt(value, $"attempts.{step}", 0, 10_000) is { } count)
                {
                    attempts.Add((step, count, fields.Loc(keyNode)));
                }
            }
        }

        return new DrillExpectations
        {
            Attempts = attempts,
            AlertOutcomes = notified,
            Calls = calls,
            Outcome = OneOf("outcome", Outcomes),
            ErrorKind = keys.TryGetValue("error_kind", out var ek) ? fields.RequireString(ek, "error_kind") : null,
            Alert = OneOf("alert", AlertOutcomes),
            Guard = OneOf("guard", ["allowed", "blocked"]),
            StepsRun = Steps("steps_run"),
            StepsSkipped = Steps("steps_skipped"),
            NoUnapprovedDestructive = !keys.TryGetValue("no_unapproved_destructive", out var nu) || (fields.RequireBool(nu, "no_unapproved_destructive") ?? true),
            Mttd = Max("mttd"),
            Mttr = Max("mttr"),
            At = fields.Loc(m),
        };
    }
}
