namespace RunbookEngine.Temporal;

/// <summary>
/// Something the Temporal engine could not do, said in one line that names what failed (the address, the
/// namespace, the credential, the task queue): the CLI prints it and exits 1, never a stack trace.
/// </summary>
public sealed class TemporalEngineException : RunbookEngine.Workflows.WorkflowStoreException
{
    /// <summary>Initializes a new instance of the <see cref="TemporalEngineException"/> class.</summary>
    public TemporalEngineException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="TemporalEngineException"/> class.</summary>
    /// <param name="message">The one-line reason.</param>
    public TemporalEngineException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="TemporalEngineException"/> class.</summary>
    /// <param name="message">The one-line reason.</param>
    /// <param name="innerException">The cause.</param>
    public TemporalEngineException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
