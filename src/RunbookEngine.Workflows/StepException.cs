namespace RunbookEngine.Workflows;

/// <summary>Thrown by step code to fail an attempt with an explicit error kind.</summary>
/// <remarks>Any other exception fails the attempt with its type name as the kind.</remarks>
public class StepException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="StepException"/> class.</summary>
    public StepException()
        : this("Step failed.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StepException"/> class.</summary>
    /// <param name="message">The message.</param>
    public StepException(string message)
        : this("StepException", message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StepException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public StepException(string message, Exception innerException)
        : base(message, innerException)
    {
        Kind = "StepException";
    }

    /// <summary>Initializes a new instance of the <see cref="StepException"/> class.</summary>
    /// <param name="kind">The error kind, matched against <see cref="RetryPolicy.NonRetryableErrorKinds"/>.</param>
    /// <param name="message">The message.</param>
    /// <param name="nonRetryable">Whether to fail the step at once whatever the policy says.</param>
    public StepException(string kind, string message, bool nonRetryable = false)
        : base(message)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        Kind = kind;
        NonRetryable = nonRetryable;
    }

    /// <summary>Gets the error kind.</summary>
    public string Kind { get; }

    /// <summary>Gets a value indicating whether the step fails at once whatever the policy says.</summary>
    public bool NonRetryable { get; }
}
