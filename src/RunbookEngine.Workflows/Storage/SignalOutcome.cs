namespace RunbookEngine.Workflows.Storage;

/// <summary>What happened to a signal sent to a run.</summary>
public enum SignalOutcome
{
    /// <summary>Stored; the run will see it at its next (or current) wait for that name.</summary>
    Delivered,

    /// <summary>No run has that id.</summary>
    RunNotFound,

    /// <summary>The run has already finished; the signal was not stored.</summary>
    RunFinished,
}
