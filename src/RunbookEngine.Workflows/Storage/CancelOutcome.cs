namespace RunbookEngine.Workflows.Storage;

/// <summary>What happened to a cancellation request.</summary>
public enum CancelOutcome
{
    /// <summary>Recorded; the run will stop at its next step boundary or when its current step observes the token.</summary>
    Requested,

    /// <summary>It had been requested before.</summary>
    AlreadyRequested,

    /// <summary>No run has that id.</summary>
    RunNotFound,

    /// <summary>The run has already finished.</summary>
    RunFinished,
}
