using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Drills;

/// <summary>The expectations a replayed and a live drill check alike, from the run and its timeline.</summary>
internal static class DrillChecks
{
    /// <summary>The runbook's steps that ran and that were skipped, in runbook order (a script's as its code named them).</summary>
    public static (List<string> Run, List<string> Skipped) Steps(Runbook runbook, IReadOnlyList<DrillEvent> events)
    {
        var ids = runbook.Steps.Select(s => s.Id).ToList();
        bool Ran(string id) => events.Any(e => e.Kind != "step.skipped" && e.Step is { } s && Belongs(s, id));
        var run = runbook.Language == RunbookLanguage.Script
            ? [.. events.Select(e => e.Step).OfType<string>().Select(s => s.Split('/', '#')[0]).Distinct(StringComparer.Ordinal)]
            : ids.Where(Ran).ToList();
        return (run, ids.Where(id => Skipped(events, id)).ToList());
    }

    /// <summary>outcome, error_kind, alert, alert_outcomes, guard, steps_run, steps_skipped.</summary>
    public static IEnumerable<DrillCheck> OfRun(Drill drill, RunView? run, IReadOnlyList<DrillEvent> events, IReadOnlyList<string> stepsRun, IReadOnlyList<string> stepsSkipped, string? firstOutcome, IReadOnlyList<string> notificationOutcomes)
    {
        var expect = drill.Expect;
        var where = expect.At?.ToString() ?? drill.File;
        if (expect.Outcome is { } outcome)
        {
            yield return new("outcome", run?.Status == outcome, outcome, run?.Status ?? "no run started", where);
        }

        if (expect.ErrorKind is { } kind)
        {
            yield return new("error_kind", run?.ErrorKind == kind, kind, run?.ErrorKind ?? "none", where);
        }

        if (expect.Alert is { } alertOutcome)
        {
            yield return new("alert", firstOutcome == alertOutcome, alertOutcome, firstOutcome ?? "no alert routed", where);
        }

        if (expect.AlertOutcomes is { } outcomes)
        {
            yield return new("alert_outcomes", outcomes.SequenceEqual(notificationOutcomes), $"[{string.Join(", ", outcomes)}]", $"[{string.Join(", ", notificationOutcomes)}]", where);
        }

        if (expect.Guard is { } guard)
        {
            var decided = events.LastOrDefault(e => e.Kind is TimelineKinds.GuardAllowed or TimelineKinds.GuardBlocked)?.Kind switch
            {
                TimelineKinds.GuardAllowed => "allowed",
                TimelineKinds.GuardBlocked => "blocked",
                _ => null,
            };
            yield return new("guard", decided == guard, guard, decided ?? "no guard decision", where);
        }

        foreach (var (step, at) in expect.StepsRun)
        {
            var ran = stepsRun.Contains(step);
            yield return new($"steps_run: {step}", ran, "runs", ran ? "ran" : Skipped(events, step) ? "skipped (its when: was false)" : "did not run", at.ToString());
        }

        foreach (var (step, at) in expect.StepsSkipped)
        {
            var skipped = stepsSkipped.Contains(step);
            yield return new($"steps_skipped: {step}", skipped, "skipped", skipped ? "skipped" : stepsRun.Contains(step) ? "ran" : "did not run (not reached)", at.ToString());
        }
    }

    /// <summary>mttd and mttr.</summary>
    public static IEnumerable<DrillCheck> OfTimes(Drill drill, bool alerted, TimeSpan? mttd, TimeSpan? mttr, string? recoveredBy)
    {
        var expect = drill.Expect;
        var where = expect.At?.ToString() ?? drill.File;
        if (expect.Mttd is { } maxD)
        {
            yield return new("mttd", mttd is { } d && d <= maxD, "<= " + Durations.Format(maxD), mttd is { } d2 ? Durations.Format(d2) : !alerted ? "no alert in the drill" : "no run started", where);
        }

        if (expect.Mttr is { } maxR)
        {
            yield return new("mttr", mttr is { } m && m <= maxR, "<= " + Durations.Format(maxR), mttr is { } m2 ? $"{Durations.Format(m2)} ({recoveredBy})" : !alerted ? "no alert in the drill" : "never recovered", where);
        }
    }

    /// <summary>When and how the run recovered: the last verify that passed, else the run completing, else the alert resolving.</summary>
    public static (TimeSpan? At, string? By) Recovery(RunView? run, IReadOnlyList<DrillEvent> events, DateTimeOffset start, TimeSpan? resolved)
    {
        if (events.LastOrDefault(e => e.Kind == "verify.passed") is { } verified)
        {
            return (verified.At, "verified");
        }

        if (run is { Status: "completed", CompletedAt: { } done, DryRun: false })
        {
            return (done - start, "completed");
        }

        return resolved is { } r ? (r, "resolved") : (null, null);
    }

    public static bool Belongs(string name, string id) =>
        name == id || name.StartsWith(id + "/", StringComparison.Ordinal) || name.StartsWith(id + "#", StringComparison.Ordinal);

    private static bool Skipped(IReadOnlyList<DrillEvent> events, string id) => events.Any(e => e.Kind == "step.skipped" && e.Step == id);
}
