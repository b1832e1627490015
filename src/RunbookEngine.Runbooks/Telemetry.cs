using System.Diagnostics.Metrics;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks;

/// <summary>The assembly's one <see cref="Meter"/>, named <c>RunbookEngine.Runbooks</c>: what only the interpreter knows.</summary>
internal static class Telemetry
{
    public const string Name = "RunbookEngine.Runbooks";

    public static readonly Meter Meter = new(Name);

    /// <summary>Recorded once per decision, never on a replay: the time from the request to the approval that completed it, a rejection, or the timeout.</summary>
    /// <summary>Recorded once, when a run an alert started begins its first step live.</summary>
    public static readonly Histogram<double> AlertToFirstStep = Meter.CreateHistogram<double>("runbook.alert.to_first_step", "s", "Time from an alert firing to the first step of the run it started, by runbook and alert source.");

    /// <summary>Recorded once per verify that passed live, in a run an alert started: the engine's MTTR for that runbook.</summary>
    public static readonly Histogram<double> TimeToRecovery = Meter.CreateHistogram<double>("runbook.alert.time_to_recovery", "s", "Time from an alert firing to the recovery its run verified (a verify that passed), by runbook and alert source.");

    public static readonly Histogram<double> ApprovalWait = Meter.CreateHistogram<double>("runbook.approval.wait", "s", "Time from an approval's request to its outcome (approved, rejected, timed_out), by outcome.");

    /// <summary>Records the time since the run's alert fired, unless the run was not started by an alert, is a dry-run, or this is a replay.</summary>
    public static void SinceAlert(Histogram<double> histogram, IWorkflowContext ctx, RunbookRunInput input, string runbook, bool replayed)
    {
        if (!replayed && !input.DryRun && input.Drill is null && input.AlertFiredAt is { } fired)
        {
            histogram.Record(
                Math.Max(0, (ctx.UtcNow - fired).TotalSeconds),
                new KeyValuePair<string, object?>("runbook.workflow", runbook),
                new KeyValuePair<string, object?>("source", input.Alert?["source"]?.ToString()));
        }
    }
}
