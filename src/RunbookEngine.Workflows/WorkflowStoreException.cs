namespace RunbookEngine.Workflows;

/// <summary>The store could not do what was asked; the message names the problem and where it is.</summary>
public class WorkflowStoreException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="WorkflowStoreException"/> class.</summary>
    public WorkflowStoreException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="WorkflowStoreException"/> class.</summary>
    /// <param name="message">The message.</param>
    public WorkflowStoreException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="WorkflowStoreException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public WorkflowStoreException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
