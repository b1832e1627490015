using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RunbookEngine.Workflows.Execution;

/// <summary>The assembly's one <see cref="ActivitySource"/> and one <see cref="Meter"/>.</summary>
internal static class Telemetry
{
    public const string Name = "RunbookEngine.Workflows";

    public static readonly ActivitySource Source = new(Name);

    public static readonly Meter Meter = new(Name);

    public static readonly Histogram<double> StepDuration = Meter.CreateHistogram<double>("runbook.step.duration", "s", "Duration of one step attempt.");

    public static readonly Counter<long> RunsFinished = Meter.CreateCounter<long>("runbook.run.finished", "{run}", "Runs that reached a terminal status, by status.");
}
