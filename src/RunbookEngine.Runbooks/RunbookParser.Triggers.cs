using System.Text.RegularExpressions;
using RunbookEngine.Runbooks.Expressions;
using RunbookEngine.Runbooks.Model;
using YamlDotNet.RepresentationModel;

namespace RunbookEngine.Runbooks;

/// <content>Triggers (alert matchers, trigger inputs, gates) and guards.</content>
public sealed partial class RunbookParser
{
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

    private BreakerCount Fail(YamlNode node, string message)
    {
        Error(node, message);
        return BreakerCount.Runs;
    }
}
