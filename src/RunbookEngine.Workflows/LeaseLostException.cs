namespace RunbookEngine.Workflows;

/// <summary>
/// A write was refused because this worker no longer owns the run or step it wrote for (fencing): another
/// worker took it over after the lease expired. Nothing of the refused write was applied.
/// </summary>
public sealed class LeaseLostException : WorkflowStoreException
{
    /// <summary>Initializes a new instance of the <see cref="LeaseLostException"/> class.</summary>
    public LeaseLostException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="LeaseLostException"/> class.</summary>
    /// <param name="message">The message.</param>
    public LeaseLostException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="LeaseLostException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public LeaseLostException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
