namespace RunbookEngine.Workflows;

/// <summary>The life-cycle state of a workflow run.</summary>
public enum RunStatus
{
    /// <summary>Ready to be claimed by a worker (new, woken by a signal, a completed activity or a due timer).</summary>
    Ready,

    /// <summary>Leased by a worker that is executing it.</summary>
    Running,

    /// <summary>Suspended in the store: waiting for a signal, a timer, a retry back-off or a step on another queue. Holds no thread.</summary>
    Waiting,

    /// <summary>Finished successfully.</summary>
    Completed,

    /// <summary>Finished with an error.</summary>
    Failed,

    /// <summary>Cancelled on request.</summary>
    Cancelled,

    /// <summary>Refused by a guard when it asked to start; never executed (the reason is its error message).</summary>
    Blocked,
}
