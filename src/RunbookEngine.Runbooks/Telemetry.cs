using System.Diagnostics.Metrics;

namespace RunbookEngine.Runbooks;

/// <summary>The assembly's one <see cref="Meter"/>, named <c>RunbookEngine.Runbooks</c>: what only the interpreter knows.</summary>
internal static class Telemetry
{
    public const string Name = "RunbookEngine.Runbooks";

    public static readonly Meter Meter = new(Name);

    /// <summary>Recorded once per decision, never on a replay: the time from the request to the approval that completed it, a rejection, or the timeout.</summary>
    public static readonly Histogram<double> ApprovalWait = Meter.CreateHistogram<double>("runbook.approval.wait", "s", "Time from an approval's request to its outcome (approved, rejected, timed_out), by outcome.");
}
