namespace RunbookEngine.Workflows.Storage;

/// <summary>
/// The report of one game-day drill, kept so drills can be listed and compared over time. Append-only, like the
/// journal; the kernel does not interpret the report.
/// </summary>
/// <param name="At">When the drill ran (wall-clock time, not the drill's virtual time).</param>
/// <param name="Drill">The drill's name.</param>
/// <param name="Runbook">The runbook it exercised.</param>
/// <param name="Passed">Whether every expectation held.</param>
/// <param name="Actor">Who ran it (kind:name).</param>
/// <param name="Mode">How it ran: <c>replay</c> (virtual time, every call answered from the file) or <c>live</c>.</param>
/// <param name="Report">The full report as JSON.</param>
public sealed record NewDrillReport(DateTimeOffset At, string Drill, string Runbook, bool Passed, string Actor, string Mode, string Report);

/// <summary>A stored drill report.</summary>
/// <param name="Id">Its position: increasing in the order stored.</param>
/// <param name="At">When the drill ran.</param>
/// <param name="Drill">The drill's name.</param>
/// <param name="Runbook">The runbook.</param>
/// <param name="Passed">Whether every expectation held.</param>
/// <param name="Actor">Who ran it.</param>
/// <param name="Mode">replay or live.</param>
/// <param name="Report">The full report as JSON.</param>
public sealed record DrillReport(long Id, DateTimeOffset At, string Drill, string Runbook, bool Passed, string Actor, string Mode, string Report);

/// <summary>Which drill reports to list, newest first.</summary>
public sealed record DrillReportQuery
{
    /// <summary>Gets only this drill, or null for all.</summary>
    public string? Drill { get; init; }

    /// <summary>Gets only drills of this runbook, or null for all.</summary>
    public string? Runbook { get; init; }

    /// <summary>Gets only passed (true) or failed (false) drills, or null for both.</summary>
    public bool? Passed { get; init; }

    /// <summary>Gets only reports before this id (paging), or null.</summary>
    public long? BeforeId { get; init; }

    /// <summary>Gets the most reports returned.</summary>
    public int Limit { get; init; } = 50;
}

/// <summary>The scenario answers of a live drill that marks only some steps live, while it runs.</summary>
/// <param name="Drill">The drill's name.</param>
/// <param name="Script">The answers as JSON (the run input's <c>drill_script</c>).</param>
/// <param name="Actor">Who registered them.</param>
/// <param name="RegisteredAt">When.</param>
/// <param name="ExpiresAt">When they stop applying to new runs, even if the drill never ends them.</param>
public sealed record LiveDrillScript(string Drill, string Script, string Actor, DateTimeOffset RegisteredAt, DateTimeOffset ExpiresAt);
