using System.Globalization;
using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Expressions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Runbooks;

/// <summary>
/// The policy behind a runbook's <c>guards:</c>. The store calls it inside the transaction that creates a run
/// (so every worker and server on every machine sees one breaker); it folds the runs that ended since its
/// last decision into its saved state, then allows or blocks the new run.
/// </summary>
/// <remarks>
/// The breaker counts failed runs (or, with <c>count: steps</c>, steps that failed for good): <c>failures</c> of them ending within <c>window</c> open it; it stays open
/// for <c>open_for</c>; then the next run is its trial (half-open) and no other run starts while the trial
/// is live. A completed trial closes it, a failed one opens it again, a cancelled one lets the next run be
/// the trial. Cancelled and blocked runs never count as failures.
/// </remarks>
public static class GuardPolicy
{
    /// <summary>The guard key of a run: the runbook's name, and its target when one is declared (<c>restart-service/web-1</c>).</summary>
    /// <param name="runbook">The runbook.</param>
    /// <param name="inputs">The run's bound inputs.</param>
    /// <returns>The key and target, or the problem (file:line:col) that stopped the target.</returns>
    public static (string? Key, string? Target, string? Problem) KeyOf(Runbook runbook, JsonObject inputs)
    {
        ArgumentNullException.ThrowIfNull(runbook);
        ArgumentNullException.ThrowIfNull(inputs);
        if (runbook.Guards?.Target is not { } template)
        {
            return (runbook.Name, null, null);
        }

        string target;
        try
        {
            var roots = new Dictionary<string, object?>(StringComparer.Ordinal) { ["inputs"] = RunbookValues.FromJson(inputs) };
            target = TriggerInputs.Render(template, roots) switch
            {
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                null => string.Empty,
                var other => other.ToJsonString(),
            };
        }
        catch (ExpressionException ex)
        {
            return (null, null, ex.Message);
        }

        target = target.Trim();
        return target.Length is 0 or > 200
            ? (null, null, $"{template.Location}: the guard's target is {(target.Length == 0 ? "empty" : "longer than 200 characters")}; give the input it is made from a value")
            : ($"{runbook.Name}/{target}", target, null);
    }

    /// <summary>The guard a run of the runbook starts under, or null when it declares none.</summary>
    /// <param name="runbook">The runbook.</param>
    /// <param name="key">The run's guard key (<see cref="KeyOf"/>).</param>
    /// <param name="dryRun">A dry-run is told the decision but never blocked and never counted.</param>
    /// <returns>The guard.</returns>
    public static RunGuard? For(Runbook runbook, string key, bool dryRun)
    {
        ArgumentNullException.ThrowIfNull(runbook);
        return runbook.Guards is { } spec ? new RunGuard(key, ctx => Decide(spec, ctx, enforced: !dryRun), Enforce: !dryRun) : null;
    }

    /// <summary>Decides whether a run may start.</summary>
    /// <param name="spec">The runbook's guards.</param>
    /// <param name="context">What the store holds for the key.</param>
    /// <param name="enforced">Whether the decision counts (false for dry-runs).</param>
    /// <returns>The decision, with the state to save and the timeline event's data.</returns>
    public static GuardVerdict Decide(GuardSpec spec, GuardContext context, bool enforced)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(context);
        var now = context.Now;
        var state = Fold(spec, context);
        var reasons = new List<string>();
        var target = Target(context.Key);
        if (spec.MaxLive > 0 && context.Live.Count >= spec.MaxLive)
        {
            reasons.Add($"{context.Live.Count} live run{(context.Live.Count == 1 ? string.Empty : "s")} for {target} (at most {spec.MaxLive}): {string.Join(", ", context.Live.Select(r => r.RunId))}");
        }

        var breaker = BreakerState(spec, state, context);
        if (breaker == "open")
        {
            reasons.Add($"circuit breaker open for {target} since {Time(state.OpenedAt!.Value)} after {spec.Breaker!.Failures} failed {(spec.Breaker.Count == BreakerCount.Steps ? "step" : "run")}{(spec.Breaker.Failures == 1 ? string.Empty : "s")} within {Durations.Format(spec.Breaker.Window)}; a trial run may start from {Time(state.OpenedAt.Value + spec.Breaker.OpenFor)} (`runbook guards reset {context.Key}` closes it)");
        }
        else if (breaker == "half-open" && state.Trial is { } trial && context.Live.Any(r => r.RunId == trial))
        {
            reasons.Add($"circuit breaker half-open for {target}: its trial run {trial} is still live");
        }

        if (spec.Cooldown is { } cooldown && state.LastEndedAt is { } ended && ended + cooldown > now)
        {
            reasons.Add($"cooling down until {Time(ended + cooldown)}: the last run for {target} ended at {Time(ended)} (cooldown {Durations.Format(cooldown)})");
        }

        if (spec.Rate is { } rate)
        {
            var recent = state.Admitted.Where(t => t > now - rate.Per).Order().ToList();
            if (recent.Count >= rate.Max)
            {
                reasons.Add($"{recent.Count} runs for {target} started within {Durations.Format(rate.Per)} (at most {rate.Max}); the next may start from {Time(recent[recent.Count - rate.Max] + rate.Per)}");
            }
        }

        var allowed = reasons.Count == 0;
        var isTrial = allowed && breaker == "half-open";
        if (allowed && enforced)
        {
            state.Admitted.Add(now);
            if (isTrial)
            {
                state.Trial = context.RunId;
            }
        }

        if (spec.Rate is { } r)
        {
            state.Admitted.RemoveAll(t => t <= now - r.Per);
        }
        else
        {
            state.Admitted.Clear();
        }

        var reason = !allowed ? string.Join("; ", reasons)
            : isTrial ? $"allowed as the circuit breaker's trial run for {target} (half-open)"
            : $"allowed: no guard of {target} objects";
        var data = new JsonObject
        {
            ["key"] = context.Key,
            ["target"] = context.Key.IndexOf('/', StringComparison.Ordinal) is var slash and >= 0 ? context.Key[(slash + 1)..] : null,
            ["allowed"] = allowed,
            ["reason"] = reason,
            ["reasons"] = new JsonArray([.. reasons.Select(x => JsonValue.Create(x))]),
            ["breaker"] = isTrial ? "half-open (trial)" : breaker,
            ["live_runs"] = new JsonArray([.. context.Live.Select(x => JsonValue.Create(x.RunId))]),
            ["enforced"] = enforced,
        };
        return new GuardVerdict(allowed, state.ToJson(), reason, data.ToJsonString());
    }

    /// <summary>Describes a guard's state now, for <c>runbook guards</c>: nothing is changed.</summary>
    /// <param name="spec">The runbook's guards (null when the runbook no longer declares any).</param>
    /// <param name="record">What the store holds.</param>
    /// <param name="now">The current time.</param>
    /// <returns>The view.</returns>
    public static Service.GuardView Describe(GuardSpec? spec, GuardRecord record, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(record);
        var context = new GuardContext(record.Key, record.State, record.Live, record.Ended, record.LastReset, string.Empty, now);
        var slash = record.Key.IndexOf('/', StringComparison.Ordinal);
        var view = new Service.GuardView
        {
            Key = record.Key,
            Runbook = slash < 0 ? record.Key : record.Key[..slash],
            Target = slash < 0 ? null : record.Key[(slash + 1)..],
            LiveRuns = [.. record.Live.Select(r => r.RunId)],
            UpdatedAt = record.UpdatedAt,
            LastReset = record.LastReset is { } reset ? new Service.GuardResetView(reset.At, reset.Actor, reset.Reason) : null,
            Declared = spec is not null,
        };
        if (spec is null)
        {
            return view;
        }

        var state = Fold(spec, context);
        var breaker = BreakerState(spec, state, context);
        return view with
        {
            Breaker = breaker,
            OpenUntil = breaker == "open" ? state.OpenedAt + spec.Breaker!.OpenFor : null,
            TrialRun = breaker == "half-open" && state.Trial is { } t && record.Live.Any(r => r.RunId == t) ? t : null,
            RecentFailures = spec.Breaker is { } b ? state.Failures.Count(f => f > now - b.Window) : 0,
            CooldownUntil = spec.Cooldown is { } c && state.LastEndedAt is { } e && e + c > now ? e + c : null,
            RecentRuns = spec.Rate is { } r ? state.Admitted.Count(x => x > now - r.Per) : 0,
            MaxLive = spec.MaxLive,
            RateMax = spec.Rate?.Max,
        };
    }

    private static string Target(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? "the runbook" : $"target '{key[(slash + 1)..]}'";
    }

    private static string BreakerState(GuardSpec spec, State state, GuardContext context) =>
        spec.Breaker is not { } b ? "none"
        : !state.Open ? "closed"
        : context.Now < state.OpenedAt!.Value + b.OpenFor ? "open"
        : "half-open";

    /// <summary>The saved state with the runs that ended since folded in.</summary>
    private static State Fold(GuardSpec spec, GuardContext context)
    {
        var state = State.Parse(context.State);
        foreach (var run in context.Ended)
        {
            var end = run.CompletedAt ?? context.Now;
            state.LastEndedAt = state.LastEndedAt is { } last && last > end ? last : end;
            if (spec.Breaker is not { } b)
            {
                continue;
            }

            if (state.Open)
            {
                if (run.RunId == state.Trial)
                {
                    state.Trial = null;
                    if (run.Status == RunStatus.Completed && Failures(b, run) == 0)
                    {
                        state.Open = false;
                        state.OpenedAt = null;
                        state.Failures.Clear();
                    }
                    else if (Failures(b, run) > 0)
                    {
                        state.OpenedAt = end;
                    }
                }
            }
            else if (Failures(b, run) is var failures and > 0)
            {
                state.Failures.AddRange(Enumerable.Repeat(end, failures));
                state.Failures.RemoveAll(f => f <= end - b.Window);
                if (state.Failures.Count >= b.Failures)
                {
                    state.Open = true;
                    state.OpenedAt = end;
                    state.Failures.Clear();
                }
            }
        }

        if (spec.Breaker is { } br)
        {
            state.Failures.RemoveAll(f => f <= context.Now - br.Window);
        }

        return state;
    }

    /// <summary>What an ended run adds to the breaker's count: 1 if it failed, or with count: steps its failed steps (at least 1 if it failed).</summary>
    private static int Failures(BreakerSpec breaker, GuardRun run) => breaker.Count == BreakerCount.Steps
        ? Math.Max(run.FailedSteps, run.Status == RunStatus.Failed ? 1 : 0)
        : run.Status == RunStatus.Failed ? 1 : 0;

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private sealed class State
    {
        public List<DateTimeOffset> Admitted { get; } = [];

        public List<DateTimeOffset> Failures { get; } = [];

        public DateTimeOffset? LastEndedAt { get; set; }

        public bool Open { get; set; }

        public DateTimeOffset? OpenedAt { get; set; }

        public string? Trial { get; set; }

        public static State Parse(string? json)
        {
            var state = new State();
            if (json is null || JsonNode.Parse(json) is not JsonObject o)
            {
                return state;
            }

            state.Admitted.AddRange(Times(o["admitted"]));
            state.Failures.AddRange(Times(o["failures"]));
            state.LastEndedAt = At(o["last_ended_at"]);
            state.Open = o["breaker"]?.GetValue<string>() == "open";
            state.OpenedAt = At(o["opened_at"]);
            state.Trial = o["trial"]?.GetValue<string>();
            return state;
        }

        public string ToJson() => new JsonObject
        {
            ["breaker"] = Open ? "open" : "closed",
            ["opened_at"] = OpenedAt is { } o ? Stamp(o) : null,
            ["trial"] = Trial,
            ["failures"] = new JsonArray([.. Failures.Select(f => JsonValue.Create(Stamp(f)))]),
            ["last_ended_at"] = LastEndedAt is { } e ? Stamp(e) : null,
            ["admitted"] = new JsonArray([.. Admitted.Select(a => JsonValue.Create(Stamp(a)))]),
        }.ToJsonString();

        private static string Stamp(DateTimeOffset t) => t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

        private static DateTimeOffset? At(JsonNode? node) =>
            node?.GetValue<string>() is { } s ? DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind) : null;

        private static IEnumerable<DateTimeOffset> Times(JsonNode? node) =>
            node is JsonArray a ? a.Select(At).OfType<DateTimeOffset>() : [];
    }
}
