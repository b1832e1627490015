using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>How a drill runs as a live game day (<c>runbook drill run --live</c>): what stops it, and how long it may take.</summary>
/// <param name="StopConditions">PromQL expressions: the drill stops, and cancels its run, when one returns any series.</param>
/// <param name="Prometheus">The Prometheus the stop conditions are asked of, or null for <c>RUNBOOK_PROMETHEUS_URL</c>.</param>
/// <param name="Poll">How often the stop conditions and the run are checked.</param>
/// <param name="Timeout">The most the drill waits for its run to end after its last alert or start.</param>
/// <param name="At">Where it is written.</param>
/// <param name="Steps">
/// The steps whose actions run for real (<c>live.steps</c>), each with where it is written; every other action
/// step is answered from the scenario (<c>steps:</c>, <c>actions:</c>) as in a replay. Null: every action runs for real.
/// </param>
public sealed record DrillLive(IReadOnlyList<DrillStopCondition> StopConditions, string? Prometheus, TimeSpan Poll, TimeSpan Timeout, SourceLocation At, IReadOnlyList<(string Step, SourceLocation At)>? Steps = null)
{
    /// <summary>Gets the keys of <c>live:</c>.</summary>
    public static readonly string[] Keys = ["stop_conditions", "prometheus", "poll", "timeout", "steps"];

    /// <summary>Gets the live settings of a drill that says nothing about them.</summary>
    public static DrillLive Default { get; } = new([], null, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(30), new SourceLocation(string.Empty, 0, 0));
}
