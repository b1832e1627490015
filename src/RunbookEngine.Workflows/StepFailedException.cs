namespace RunbookEngine.Workflows;

/// <summary>Thrown into workflow code when a step has failed for good (retries exhausted or not retryable).</summary>
public sealed class StepFailedException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="StepFailedException"/> class.</summary>
    public StepFailedException()
        : this(string.Empty, 0, "Unknown", "Step failed.", 0)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StepFailedException"/> class.</summary>
    /// <param name="message">The message.</param>
    public StepFailedException(string message)
        : this(string.Empty, 0, "Unknown", message, 0)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StepFailedException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public StepFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
        StepName = string.Empty;
        ErrorKind = "Unknown";
        ErrorMessage = message;
    }

    /// <summary>Initializes a new instance of the <see cref="StepFailedException"/> class.</summary>
    /// <param name="stepName">The step.</param>
    /// <param name="sequence">The step's position in the run.</param>
    /// <param name="errorKind">The last attempt's error kind.</param>
    /// <param name="errorMessage">The last attempt's error message.</param>
    /// <param name="attempts">How many attempts were made.</param>
    public StepFailedException(string stepName, int sequence, string errorKind, string errorMessage, int attempts)
        : base($"Step '{stepName}' failed after {attempts} attempt(s): {errorKind}: {errorMessage}")
    {
        StepName = stepName;
        Sequence = sequence;
        ErrorKind = errorKind;
        ErrorMessage = errorMessage;
        Attempts = attempts;
    }

    /// <summary>Gets the step name.</summary>
    public string StepName { get; }

    /// <summary>Gets the step's position in the run.</summary>
    public int Sequence { get; }

    /// <summary>Gets the error kind of the last attempt.</summary>
    public string ErrorKind { get; }

    /// <summary>Gets the error message of the last attempt.</summary>
    public string ErrorMessage { get; }

    /// <summary>Gets the number of attempts made.</summary>
    public int Attempts { get; }
}
