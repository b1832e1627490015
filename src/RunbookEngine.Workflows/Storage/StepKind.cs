namespace RunbookEngine.Workflows.Storage;

/// <summary>What a recorded position in a run's history is.</summary>
public enum StepKind
{
    /// <summary>Code run inline by the workflow's worker.</summary>
    Inline,

    /// <summary>A named activity executed by a worker of a task queue.</summary>
    Activity,

    /// <summary>A durable timer.</summary>
    Timer,

    /// <summary>A wait for a named signal.</summary>
    Signal,
}
