namespace RunbookEngine.Runbooks.Model;

/// <summary>What happens when a step fails for good.</summary>
public enum FailureMode
{
    /// <summary>The run fails (default).</summary>
    Abort,

    /// <summary>The step is marked failed and the run continues with the next step.</summary>
    Continue,

    /// <summary>The run continues at another step.</summary>
    Goto,
}
