namespace RunbookEngine.Runbooks.Model;

/// <summary>A runbook, or the inputs given to it, has problems; each is a <c>file:line:col: message</c> line.</summary>
public sealed class RunbookValidationException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="RunbookValidationException"/> class.</summary>
    public RunbookValidationException()
    {
        Diagnostics = [];
    }

    /// <summary>Initializes a new instance of the <see cref="RunbookValidationException"/> class.</summary>
    /// <param name="message">The message.</param>
    public RunbookValidationException(string message)
        : base(message)
    {
        Diagnostics = [];
    }

    /// <summary>Initializes a new instance of the <see cref="RunbookValidationException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public RunbookValidationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Diagnostics = [];
    }

    /// <summary>Initializes a new instance of the <see cref="RunbookValidationException"/> class.</summary>
    /// <param name="diagnostics">The problems.</param>
    public RunbookValidationException(IReadOnlyList<RunbookDiagnostic> diagnostics)
        : base(string.Join(Environment.NewLine, diagnostics))
    {
        Diagnostics = diagnostics;
    }

    /// <summary>Gets the problems.</summary>
    public IReadOnlyList<RunbookDiagnostic> Diagnostics { get; }
}
