namespace RunbookEngine.Workflows.Storage;

/// <summary>The state of a recorded step.</summary>
public enum StepStatus
{
    /// <summary>An attempt has started (recorded before any side effect).</summary>
    Running,

    /// <summary>An attempt failed; the next is due at the step's available time.</summary>
    Retrying,

    /// <summary>An activity waits on its task queue for a worker.</summary>
    Queued,

    /// <summary>A timer or signal wait is pending.</summary>
    Waiting,

    /// <summary>Finished with an output.</summary>
    Completed,

    /// <summary>Finished with an error.</summary>
    Failed,
}
