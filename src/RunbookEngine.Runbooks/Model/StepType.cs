namespace RunbookEngine.Runbooks.Model;

/// <summary>What a step is.</summary>
public enum StepType
{
    /// <summary>Runs an action.</summary>
    Action,

    /// <summary>Waits for approval.</summary>
    Approval,

    /// <summary>Sleeps (a durable timer).</summary>
    Sleep,

    /// <summary>Runs an action repeatedly until a condition on its result holds.</summary>
    WaitUntil,
}
