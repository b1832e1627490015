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
    internal static readonly string[] RootKeys = ["name", "description", "inputs", "defaults", "steps", "outputs", "max_loops", "compensate_on", "triggers", "guards"];

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

        var compensateOn = map.TryGetValue("compensate_on", out var coNode) ? ParseCompensateOn(coNode) : CompensateOn.Failure;
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
            CompensateOn = compensateOn,
            Language = script ? RunbookLanguage.Script : RunbookLanguage.Yaml,
            ScriptOutputs = declared,
            Files = new SortedDictionary<string, string>(readFiles, StringComparer.Ordinal),
        };
    }

    /// <summary><c>compensate_on</c>: a list of <c>failure</c> and <c>cancel</c> (empty: never).</summary>
    private CompensateOn ParseCompensateOn(YamlNode node)
    {
        const string Hint = "'compensate_on' is a list of when to undo the steps that succeeded: failure, cancel (e.g. compensate_on: [failure, cancel]; [] never)";
        if (node is not YamlSequenceNode seq)
        {
            Error(node, Hint);
            return CompensateOn.Failure;
        }

        var on = CompensateOn.Never;
        foreach (var item in seq.Children)
        {
            var value = item is YamlScalarNode { Value: { } v } ? v : null;
            var flag = value switch
            {
                "failure" => CompensateOn.Failure,
                "cancel" => CompensateOn.Cancel,
                _ => (CompensateOn?)null,
            };
            if (flag is null)
            {
                Error(item, $"unknown compensate_on '{value}': {Hint}");
            }
            else if ((on & flag.Value) != 0)
            {
                Error(item, $"compensate_on names '{value}' twice");
            }
            else
            {
                on |= flag.Value;
            }
        }

        return on;
    }

    private Dictionary<string, YamlNode> Keys(YamlMappingNode node, string[] known, string what) => fields.Keys(node, known, what);

    private IEnumerable<(string Key, YamlNode Value, YamlNode KeyNode)> Entries(YamlNode node, string what) => fields.Entries(node, what);

    private string? RequireString(YamlNode node, string what) => fields.RequireString(node, what);

    private bool? RequireBool(YamlNode node, string what) => fields.RequireBool(node, what);

    private int? RequireInt(YamlNode node, string what, int min, int max) => fields.RequireInt(node, what, min, max);

    private TimeSpan? RequireDuration(YamlNode node, string what) => fields.RequireDuration(node, what);

    [GeneratedRegex(@"^\s*(?<label>[A-Za-z_][A-Za-z0-9_]*)\s*(?<op>=~|!~|!=|=)\s*(?<value>.*?)\s*$")]
    private static partial Regex MatcherPattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9-]*$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]*$")]
    private static partial Regex IdPattern();
}
