using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Expressions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Yaml;
using RunbookEngine.Workflows;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Runbooks;

/// <summary>
/// Reads a YAML runbook and reports every problem at once, each at its <c>file:line:col</c>. YAML runbooks never
/// load Roslyn: they are data, interpreted by <see cref="RunbookWorkflow"/>.
/// </summary>
public sealed partial class RunbookParser
{
    internal static readonly string[] RootKeys = ["name", "description", "inputs", "defaults", "steps", "outputs", "max_loops", "triggers", "guards"];
    internal static readonly string[] ScriptRootKeys = ["name", "description", "inputs", "outputs", "triggers", "guards"];
    internal static readonly string[] GuardKeys = ["target", "max_live", "cooldown", "rate", "breaker"];
    internal static readonly string[] RateKeys = ["max", "per"];
    internal static readonly string[] BreakerKeys = ["failures", "window", "open_for", "count"];
    internal static readonly string[] TriggerKeys = ["source", "match", "inputs", "mode", "approval", "destructive", "on_resolved"];
    internal static readonly string[] GateApprovalKeys = ["approvers", "min", "timeout", "on_timeout"];
    internal static readonly string[] AlertSources = ["alertmanager", "grafana", "pagerduty", "azure-monitor"];
    internal static readonly string[] AlertFields = ["labels", "annotations", "status", "fingerprint", "source", "starts_at", "ends_at", "generator_url"];
    internal static readonly string[] InputKeys = ["type", "required", "default", "pattern", "values", "secret", "description"];
    internal static readonly string[] StepKeys = ["id", "description", "action", "with", "outputs", "when", "approval", "sleep", "wait_until", "retry", "timeout", "total_timeout", "on_failure", "queue", "verify", "compensate"];
    internal static readonly string[] CompensateKeys = ["action", "with", "retry", "timeout"];
    internal static readonly string[] VerifyKeys = ["action", "with", "condition", "interval", "timeout"];
    internal static readonly string[] ApprovalKeys = ["approvers", "min", "timeout", "on_timeout", "four_eyes", "message"];
    internal static readonly string[] WaitKeys = ["condition", "interval", "timeout"];
    internal static readonly string[] RetryKeys = ["max_attempts", "initial_interval", "backoff", "max_interval", "non_retryable"];
    internal static readonly string[] RunFields = ["id", "started_by", "dry_run", "runbook"];

    private readonly ActionCatalog actions;
    private readonly List<RunbookDiagnostic> diagnostics = [];
    private readonly List<(Expr Expr, SourceLocation Start, string? Step, bool AllowResult)> sites = [];
    private readonly List<(Expr Expr, SourceLocation Start)> triggerSites = [];
    private readonly Dictionary<string, string> readFiles = new(StringComparer.Ordinal);
    private string file = string.Empty;
    private YamlFields fields = new(string.Empty, []);
    private bool script;
    private string[] sourceLines = [];
    private IReadOnlyDictionary<string, string>? pinnedFiles;

    /// <summary>Initializes a new instance of the <see cref="RunbookParser"/> class.</summary>
    /// <param name="actions">The actions steps may name.</param>
    public RunbookParser(ActionCatalog actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        this.actions = actions;
    }

    /// <summary>Parses and validates a runbook.</summary>
    /// <param name="path">The file path, as it should appear in messages.</param>
    /// <param name="source">The YAML text.</param>
    /// <param name="files">
    /// The files its <c>file:</c> inputs name, as pinned in a run's definition; null reads them from disk, relative
    /// to <paramref name="path"/>.
    /// </param>
    /// <returns>The runbook (null when there are problems) and every problem, in file order.</returns>
    public (Runbook? Runbook, IReadOnlyList<RunbookDiagnostic> Diagnostics) Parse(string path, string source, IReadOnlyDictionary<string, string>? files = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(source);
        pinnedFiles = files;
        return ParseAs(path, source, isScript: false);
    }

    private (Runbook? Runbook, IReadOnlyList<RunbookDiagnostic> Diagnostics) ParseAs(string path, string yaml, bool isScript)
    {
        file = path;
        fields = new YamlFields(path, diagnostics);
        script = isScript;
        diagnostics.Clear();
        sites.Clear();
        triggerSites.Clear();
        readFiles.Clear();
        sourceLines = yaml.Split('\n');
        var runbook = ParseDocument(yaml);
        var ordered = diagnostics.OrderBy(d => d.Location.File != path).ThenBy(d => d.Location.Line).ThenBy(d => d.Location.Column).ToList();
        return (ordered.TrueForAll(d => d.Warning) ? runbook : null, ordered);
    }

    /// <summary>
    /// Parses the metadata block of a C# script runbook: the same keys as a YAML runbook except <c>steps</c> and
    /// <c>max_loops</c> (the script's code is its steps), with outputs declared as <c>name: description</c>.
    /// </summary>
    /// <param name="path">The script's path, as it should appear in messages.</param>
    /// <param name="yaml">The block's YAML, padded so that its lines and columns are those of the script file.</param>
    /// <param name="source">The whole script, the content of its pinned definition.</param>
    /// <returns>The runbook without steps (null when there are problems) and every problem.</returns>
    public (Runbook? Runbook, IReadOnlyList<RunbookDiagnostic> Diagnostics) ParseScriptMetadata(string path, string yaml, string source)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(source);
        pinnedFiles = null;
        var (runbook, problems) = ParseAs(path, yaml, isScript: true);
        return (runbook is null ? null : runbook with { Source = source }, problems);
    }

    /// <summary>Suggests the closest known word, if one is close enough to be a typo.</summary>
    /// <param name="word">What was written.</param>
    /// <param name="known">What is allowed.</param>
    /// <returns>The suggestion or null.</returns>
    internal static string? DidYouMean(string word, IEnumerable<string> known) => YamlFields.DidYouMean(word, known);

    private static string Hint(string? suggestion) => YamlFields.Hint(suggestion);

    private SourceLocation Loc(YamlNode node) => fields.Loc(node);

    private void Error(YamlNode node, string message) => fields.Error(node, message);

    private void Error(SourceLocation at, string message) => fields.Error(at, message);

    private void Warn(SourceLocation at, string message) => fields.Warn(at, message);

    private Runbook? ParseDocument(string source)
    {
        if (fields.LoadMapping(source, "a runbook", "'name' and 'steps'", "'name', 'steps' and optionally 'description', 'inputs', 'outputs'") is not { } root)
        {
            return null;
        }

        foreach (var code in script ? root.Children.Keys.OfType<YamlScalarNode>().Where(k => k.Value is "steps" or "max_loops").ToList() : [])
        {
            Error(code, $"'{code.Value}' is not part of a script runbook's metadata: the script's code is its steps");
            root.Children.Remove(code);
        }

        var map = Keys(root, script ? ScriptRootKeys : RootKeys, script ? "the script's metadata" : "runbook");
        var name = map.TryGetValue("name", out var n) ? RequireString(n, "name") : null;
        if (name is null && !map.ContainsKey("name"))
        {
            Error(root, "missing 'name'");
        }
        else if (name is not null && !NamePattern().IsMatch(name))
        {
            Error(map["name"], $"name '{name}' must be lower-case letters, digits and '-' (e.g. disk-full-cleanup)");
        }

        var description = map.TryGetValue("description", out var dn) ? RequireString(dn, "description") : null;
        var maxLoops = 10;
        if (map.TryGetValue("max_loops", out var ml))
        {
            maxLoops = RequireInt(ml, "max_loops", 1, 10_000) ?? maxLoops;
        }

        var inputs = map.TryGetValue("inputs", out var inNode) ? ParseInputs(inNode) : [];
        var steps = new List<RunbookStep>();
        if (!script)
        {
            if (!map.TryGetValue("steps", out var stepsNode))
            {
                Error(root, "missing 'steps': a runbook has at least one step");
            }
            else if (stepsNode is not YamlSequenceNode seq || seq.Children.Count == 0)
            {
                Error(stepsNode, "'steps' must be a non-empty list of steps");
            }
            else
            {
                if (map.TryGetValue("defaults", out var defaultsNode))
                {
                    ApplyDefaults(defaultsNode, seq);
                }

                foreach (var s in seq.Children)
                {
                    if (ParseStep(s) is { } step)
                    {
                        steps.Add(step);
                    }
                }
            }
        }

        var outputs = new List<(string, Template)>();
        var declared = new List<ScriptOutput>();
        if (script && map.TryGetValue("outputs", out var declaredNode))
        {
            foreach (var (key, value, keyNode) in Entries(declaredNode, "outputs"))
            {
                var text = value is YamlScalarNode { Value: { Length: > 0 } v } ? v : null;
                if (text is null)
                {
                    Error(value, $"output '{key}': a script declares an output as 'name: description' and sets it with Output(\"{key}\", value)");
                }

                if (!IdPattern().IsMatch(key))
                {
                    Error(keyNode, $"output name '{key}' must be letters, digits, '_' or '-'");
                }

                declared.Add(new ScriptOutput(key, text, Loc(keyNode)));
            }
        }
        else if (map.TryGetValue("outputs", out var outNode))
        {
            foreach (var (key, value, _) in Entries(outNode, "outputs"))
            {
                outputs.Add((key, ParseTemplate(value, null, allowResult: false)));
            }
        }

        var triggers = map.TryGetValue("triggers", out var trNode) ? ParseTriggers(trNode, inputs) : [];
        var guards = map.TryGetValue("guards", out var gNode) ? ParseGuards(gNode, inputs) : null;
        CheckSteps(steps);
        CheckReferences(steps, inputs);
        CheckTriggerReferences();
        CheckDestructiveSteps(triggers, steps);
        CheckCommandInjection(triggers, steps);
        if (name is null)
        {
            return null;
        }

        return new Runbook(name, description, inputs, steps, outputs, maxLoops, file, source)
        {
            Triggers = triggers,
            Guards = guards,
            Language = script ? RunbookLanguage.Script : RunbookLanguage.Yaml,
            ScriptOutputs = declared,
            Files = new SortedDictionary<string, string>(readFiles, StringComparer.Ordinal),
        };
    }

    private List<TriggerSpec> ParseTriggers(YamlNode node, List<RunbookInput> inputs)
    {
        var list = new List<TriggerSpec>();
        if (node is not YamlSequenceNode seq || seq.Children.Count == 0)
        {
            Error(node, "'triggers' must be a list of triggers (- source: alertmanager, match: [...], inputs: {...})");
            return list;
        }

        foreach (var item in seq.Children)
        {
            if (item is not YamlMappingNode m)
            {
                Error(item, "a trigger is a mapping with 'match' and optionally 'source', 'inputs', 'mode', 'on_resolved'");
                continue;
            }

            var map = Keys(m, TriggerKeys, "a trigger");
            string? source = null;
            if (map.TryGetValue("source", out var sn) && RequireString(sn, "source") is { } sv)
            {
                if (!AlertSources.Contains(sv, StringComparer.Ordinal) && (DidYouMean(sv, AlertSources) is not null || !NamePattern().IsMatch(sv)))
                {
                    Error(sn, $"unknown alert source '{sv}'{Hint(DidYouMean(sv, AlertSources))}; sources: {string.Join(", ", AlertSources)}, or a generic webhook's name (lower-case letters, digits, '-')");
                }

                source = sv;
            }

            var matchers = new List<AlertMatcher>();
            if (!map.TryGetValue("match", out var matchNode))
            {
                Error(m, "a trigger needs 'match': label matchers like [\"alertname = DiskFull\", \"severity =~ critical|page\"]");
            }
            else if (matchNode is YamlMappingNode equal)
            {
                foreach (var (k, v) in equal.Children)
                {
                    if (k is YamlScalarNode { Value: { } label } && v is YamlScalarNode { Value: { } value })
                    {
                        matchers.Add(new AlertMatcher(label, "=", value));
                    }
                    else
                    {
                        Error(k, "'match' as a mapping is label: value (equality); use a list for !=, =~ and !~");
                    }
                }
            }
            else if (matchNode is YamlSequenceNode { Children.Count: > 0 } ms)
            {
                foreach (var mn in ms.Children)
                {
                    if (RequireString(mn, "a matcher") is { } text && ParseMatcher(mn, text) is { } matcher)
                    {
                        matchers.Add(matcher);
                    }
                }
            }
            else
            {
                Error(matchNode, "'match' must be a non-empty list of matchers (\"label = value\", \"label != value\", \"label =~ regex\", \"label !~ regex\") or a mapping of label: value");
            }

            var mapped = new List<(string, Template)>();
            if (map.TryGetValue("inputs", out var inNode))
            {
                var before = sites.Count;
                foreach (var (key, value, keyNode) in Entries(inNode, "inputs"))
                {
                    if (inputs.All(i => i.Name != key))
                    {
                        Error(keyNode, $"the runbook has no input '{key}'{Hint(DidYouMean(key, inputs.Select(i => i.Name)))}" + (inputs.Count == 0 ? string.Empty : $"; its inputs: {string.Join(", ", inputs.Select(i => i.Name))}"));
                    }

                    mapped.Add((key, ParseTemplate(value, null, allowResult: false)));
                }

                // Trigger templates are evaluated against the alert, not the run: checked apart.
                triggerSites.AddRange(sites.Skip(before).Select(x => (x.Expr, x.Start)));
                sites.RemoveRange(before, sites.Count - before);
            }

            foreach (var missing in inputs.Where(i => i.Required && i.Default is null && mapped.All(x => x.Item1 != i.Name)))
            {
                Error(m, $"the trigger does not set the required input '{missing.Name}'; map it from the alert under 'inputs', e.g. {missing.Name}: \"${{{{ alert.labels.{missing.Name} }}}}\"");
            }

            var mode = TriggerMode.Live;
            if (map.TryGetValue("mode", out var modeNode) && RequireString(modeNode, "mode") is { } mv)
            {
                switch (mv)
                {
                    case "live":
                        break;
                    case "dry-run":
                        mode = TriggerMode.DryRun;
                        break;
                    case "approval":
                        mode = TriggerMode.Approval;
                        break;
                    default:
                        Error(modeNode, $"mode '{mv}' must be live, dry-run or approval{Hint(DidYouMean(mv, ["live", "dry-run", "approval"]))}");
                        break;
                }
            }

            // The gate the engine adds to a triggered run: its approvers are named here, never guessed.
            ApprovalSpec? gate = null;
            if (map.TryGetValue("approval", out var apNode))
            {
                gate = ParseApproval(apNode, "the trigger", null, GateApprovalKeys);
                if (mode == TriggerMode.DryRun)
                {
                    Error(apNode, "a dry-run changes nothing and waits for no approval: remove 'approval', or use mode: approval");
                }
            }
            else if (mode == TriggerMode.Approval)
            {
                Error(modeNode!, "mode: approval needs the trigger's 'approval' with who may let the run go on, e.g. approval: { approvers: [group:sre-oncall], timeout: 30m }");
            }

            var allowDestructive = false;
            if (map.TryGetValue("destructive", out var deNode) && RequireString(deNode, "destructive") is { } dv)
            {
                if (dv is not ("approve" or "allow"))
                {
                    Error(deNode, $"destructive '{dv}' must be approve (default: a destructive step of a triggered run waits for an approval) or allow (it runs unattended)");
                }

                allowDestructive = dv == "allow";
            }

            var cancel = false;
            if (map.TryGetValue("on_resolved", out var orNode) && RequireString(orNode, "on_resolved") is { } ov)
            {
                if (ov is not ("record" or "cancel"))
                {
                    Error(orNode, $"on_resolved '{ov}' must be record (note it in the timeline) or cancel (also cancel a run still waiting for approval)");
                }

                cancel = ov == "cancel";
            }

            list.Add(new TriggerSpec(source, matchers, mapped, mode, cancel, Loc(m)) { Approval = gate, AllowDestructive = allowDestructive });
        }

        return list;
    }

    private GuardSpec? ParseGuards(YamlNode node, List<RunbookInput> inputs)
    {
        if (node is not YamlMappingNode m)
        {
            Error(node, "'guards' must be a mapping: target, max_live, cooldown, rate, breaker");
            return null;
        }

        var map = Keys(m, GuardKeys, "guards");
        Template? target = null;
        if (map.TryGetValue("target", out var tNode))
        {
            var before = sites.Count;
            target = ParseTemplate(tNode, null, allowResult: false);
            if (tNode is not YamlScalarNode)
            {
                Error(tNode, "'target' must be a string, e.g. \"${{ inputs.host }}\"");
            }

            // The target becomes the guard key, stored in clear: it may name inputs, but no secret one.
            foreach (var (expr, start, _, _) in sites.Skip(before))
            {
                foreach (var r in Walk(expr).OfType<RefExpr>())
                {
                    var at = start with { Column = start.Column + r.Offset };
                    if (r.Path[0] != "inputs" || r.Path.Count != 2)
                    {
                        Error(at, "a guard's target is made from the run's inputs only: inputs.NAME");
                    }
                    else if (inputs.All(i => i.Name != r.Path[1]))
                    {
                        Error(at, $"the runbook has no input '{r.Path[1]}'{Hint(DidYouMean(r.Path[1], inputs.Select(i => i.Name)))}");
                    }
                    else if (inputs.First(i => i.Name == r.Path[1]).Secret)
                    {
                        Error(at, $"input '{r.Path[1]}' is secret; a guard's target is stored and shown in clear, so it cannot be made from a secret");
                    }
                }

                foreach (var call in Walk(expr).OfType<CallExpr>().Where(c => !ExpressionEvaluator.Functions.ContainsKey(c.Name)))
                {
                    Error(start with { Column = start.Column + call.Offset }, $"unknown function '{call.Name}'{Hint(DidYouMean(call.Name, ExpressionEvaluator.Functions.Keys))}");
                }
            }

            sites.RemoveRange(before, sites.Count - before);
        }

        var maxLive = map.TryGetValue("max_live", out var ml) ? RequireInt(ml, "max_live", 0, 1000) ?? 1 : 1;
        var cooldown = map.TryGetValue("cooldown", out var cd) ? RequireDuration(cd, "cooldown") : null;
        RateLimit? rate = null;
        if (map.TryGetValue("rate", out var rNode))
        {
            if (rNode is not YamlMappingNode rm)
            {
                Error(rNode, "'rate' must be a mapping: { max: 3, per: 1h } (at most 3 runs per target start within any hour)");
            }
            else
            {
                var rk = Keys(rm, RateKeys, "rate");
                var max = rk.TryGetValue("max", out var mx) ? RequireInt(mx, "max", 1, 100_000) : null;
                var per = rk.TryGetValue("per", out var pr) ? RequireDuration(pr, "per") : null;
                if (!rk.ContainsKey("max") || !rk.ContainsKey("per"))
                {
                    Error(rm, "'rate' needs both 'max' and 'per': { max: 3, per: 1h }");
                }
                else if (max is { } mv && per is { } pv)
                {
                    rate = new RateLimit(mv, pv);
                }
            }
        }

        BreakerSpec? breaker = null;
        if (map.TryGetValue("breaker", out var bNode))
        {
            if (bNode is not YamlMappingNode bm)
            {
                Error(bNode, "'breaker' must be a mapping: { failures: 3, window: 30m, open_for: 1h }");
            }
            else
            {
                var bk = Keys(bm, BreakerKeys, "breaker");
                var failures = bk.TryGetValue("failures", out var f) ? RequireInt(f, "failures", 1, 1000) : null;
                var window = bk.TryGetValue("window", out var w) ? RequireDuration(w, "window") : null;
                var openFor = bk.TryGetValue("open_for", out var o) ? RequireDuration(o, "open_for") : null;
                var counting = BreakerCount.Runs;
                if (bk.TryGetValue("count", out var cn) && RequireString(cn, "count") is { } cv)
                {
                    counting = cv switch
                    {
                        "runs" => BreakerCount.Runs,
                        "steps" => BreakerCount.Steps,
                        _ => Fail(cn, $"breaker 'count' is runs (default: failed runs open it) or steps (every step that failed for good counts, handled or not), got '{cv}'"),
                    };
                }

                var missing = BreakerKeys.Where(k => k != "count" && !bk.ContainsKey(k)).ToList();
                if (missing.Count > 0)
                {
                    Error(bm, $"'breaker' needs {string.Join(", ", missing)}: {{ failures: 3, window: 30m, open_for: 1h }} (3 failed runs within 30 minutes keep it open for an hour)");
                }
                else if (failures is { } fv && window is { } wv && openFor is { } ov)
                {
                    breaker = new BreakerSpec(fv, wv, ov) { Count = counting };
                }
            }
        }

        return new GuardSpec(target, maxLive, cooldown, rate, breaker, Loc(m));
    }

    private AlertMatcher? ParseMatcher(YamlNode node, string text)
    {
        var match = MatcherPattern().Match(text);
        if (!match.Success)
        {
            Error(node, $"matcher '{text}' must be label = value, label != value, label =~ regex or label !~ regex (Alertmanager syntax)");
            return null;
        }

        var value = match.Groups["value"].Value.Trim();
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
        {
            value = value[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal);
        }

        try
        {
            if (match.Groups["op"].Value is "=~" or "!~")
            {
                _ = new Regex(value, RegexOptions.None, TimeSpan.FromMilliseconds(100));
            }

            return new AlertMatcher(match.Groups["label"].Value, match.Groups["op"].Value, value);
        }
        catch (ArgumentException ex)
        {
            Error(node, $"matcher '{text}': invalid regular expression: {ex.Message}");
            return null;
        }
    }

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

    private BreakerCount Fail(YamlNode node, string message)
    {
        Error(node, message);
        return BreakerCount.Runs;
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

    private Dictionary<string, YamlNode> Keys(YamlMappingNode node, string[] known, string what) => fields.Keys(node, known, what);

    private IEnumerable<(string Key, YamlNode Value, YamlNode KeyNode)> Entries(YamlNode node, string what) => fields.Entries(node, what);

    private string? RequireString(YamlNode node, string what) => fields.RequireString(node, what);

    private bool? RequireBool(YamlNode node, string what) => fields.RequireBool(node, what);

    private int? RequireInt(YamlNode node, string what, int min, int max) => fields.RequireInt(node, what, min, max);

    private TimeSpan? RequireDuration(YamlNode node, string what) => fields.RequireDuration(node, what);

    private List<RunbookInput> ParseInputs(YamlNode node)
    {
        var list = new List<RunbookInput>();
        foreach (var (name, value, keyNode) in Entries(node, "inputs"))
        {
            if (!IdPattern().IsMatch(name))
            {
                Error(keyNode, $"input name '{name}' must start with a letter and use letters, digits, '_' or '-'");
            }

            if (value is not YamlMappingNode m)
            {
                Error(value, $"input '{name}' must be a mapping, e.g. {{ type: string, required: true }}");
                continue;
            }

            var keys = Keys(m, InputKeys, $"input '{name}'");
            var type = InputType.String;
            var typeKnown = true;
            if (keys.TryGetValue("type", out var t))
            {
                var typeName = RequireString(t, "type");
                if (typeName is not null && !Enum.TryParse(typeName, ignoreCase: true, out type) || typeName is not null && typeName != typeName.ToLowerInvariant())
                {
                    Error(t, $"input '{name}': unknown type '{typeName}' (use string, number, boolean, enum or list){Hint(DidYouMean(typeName ?? string.Empty, ["string", "number", "boolean", "enum", "list"]))}");
                    type = InputType.String;
                    typeKnown = false;
                }
            }

            var required = keys.TryGetValue("required", out var r) && (RequireBool(r, "required") ?? false);
            var secret = keys.TryGetValue("secret", out var sec) && (RequireBool(sec, "secret") ?? false);
            if (secret && type != InputType.String)
            {
                Error(sec!, $"input '{name}': only string inputs can be secret");
            }

            string? pattern = null;
            if (keys.TryGetValue("pattern", out var p))
            {
                pattern = RequireString(p, "pattern");
                if (pattern is not null)
                {
                    try
                    {
                        _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
                    }
                    catch (ArgumentException ex)
                    {
                        Error(p, $"input '{name}': invalid pattern: {ex.Message}");
                    }
                }
            }

            List<string>? values = null;
            if (keys.TryGetValue("values", out var vs))
            {
                values = vs is YamlSequenceNode vseq && vseq.Children.All(c => c is YamlScalarNode)
                    ? vseq.Children.Select(c => ((YamlScalarNode)c).Value ?? string.Empty).ToList()
                    : null;
                if (values is null || values.Count == 0)
                {
                    Error(vs, $"input '{name}': 'values' must be a non-empty list of strings");
                }
            }

            if (type == InputType.Enum && values is null && !keys.ContainsKey("values"))
            {
                Error(m, $"input '{name}' of type enum needs 'values'");
            }

            JsonNode? defaultValue = null;
            if (keys.TryGetValue("default", out var dflt))
            {
                defaultValue = ScalarOrTree(dflt);
                if (typeKnown && InputBinder.Check(name, type, pattern, values, defaultValue) is { } problem)
                {
                    Error(dflt, $"default of {problem}");
                }

                if (secret)
                {
                    Error(dflt, $"input '{name}': a secret cannot have a default (it would be stored in the runbook)");
                }
            }

            var description = keys.TryGetValue("description", out var d) ? RequireString(d, "description") : null;
            list.Add(new RunbookInput(name, type, required && defaultValue is null, defaultValue, pattern, values, secret, description, Loc(keyNode)));
        }

        return list;
    }

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

    [GeneratedRegex(@"^\s*(?<label>[A-Za-z_][A-Za-z0-9_]*)\s*(?<op>=~|!~|!=|=)\s*(?<value>.*?)\s*$")]
    private static partial Regex MatcherPattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9-]*$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]*$")]
    private static partial Regex IdPattern();
}
