namespace RunbookEngine.Workflows.Execution;

/// <summary>Ends an execution that must stop without a workflow outcome (worker shutdown, lease lost).</summary>
internal sealed class ExecutionAbortedException : Exception
{
    public ExecutionAbortedException()
    {
    }

    public ExecutionAbortedException(string message)
        : base(message)
    {
    }

    public ExecutionAbortedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
