namespace RunbookEngine.Drills;

/// <summary>What an injected engine fault breaks.</summary>
public enum DrillFaultKind
{
    /// <summary>The worker executing the run dies (as a process killed with SIGKILL) while a step's call runs.</summary>
    WorkerDies,

    /// <summary>Every read and write of the store fails for a while.</summary>
    StoreUnreachable,
}
