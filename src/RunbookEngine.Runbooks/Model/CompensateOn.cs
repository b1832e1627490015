namespace RunbookEngine.Runbooks.Model;

/// <summary>When a runbook undoes the steps that succeeded (<c>compensate_on</c>).</summary>
[Flags]
public enum CompensateOn
{
    /// <summary>Never: <c>compensate_on: []</c>.</summary>
    Never = 0,

    /// <summary>When a step fails the run (the default).</summary>
    Failure = 1,

    /// <summary>When the run is cancelled: the compensations run although cancellation was requested, then the run ends cancelled.</summary>
    Cancel = 2,
}
