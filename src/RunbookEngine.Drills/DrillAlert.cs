using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>An alert of a drill, with its times counted from the drill's start.</summary>
/// <param name="Source">The alert source (alertmanager, grafana, pagerduty, azure-monitor).</param>
/// <param name="Labels">Its labels (<c>alertname</c> among them).</param>
/// <param name="Annotations">Its annotations.</param>
/// <param name="Fired">When it started firing (its <c>startsAt</c>).</param>
/// <param name="Received">When the engine received the first notification (detection delay = this minus <paramref name="Fired"/>).</param>
/// <param name="Repeats">When it was notified again while firing.</param>
/// <param name="Resolved">When it resolved, if it did.</param>
/// <param name="At">Where it is written.</param>
public sealed record DrillAlert(
    string Source,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations,
    TimeSpan Fired,
    TimeSpan Received,
    IReadOnlyList<TimeSpan> Repeats,
    TimeSpan? Resolved,
    SourceLocation At)
{
    /// <summary>Gets the alert's name.</summary>
    public string Name => Labels.GetValueOrDefault("alertname") ?? "alert";
}
