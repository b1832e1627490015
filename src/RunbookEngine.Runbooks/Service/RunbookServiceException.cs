namespace RunbookEngine.Runbooks.Service;

/// <summary>What kind of problem a service call met; the CLI maps it to an exit code, the API to an HTTP status.</summary>
public enum ServiceErrorKind
{
    /// <summary>The request is wrong (exit 2, HTTP 400).</summary>
    Invalid,

    /// <summary>The run or runbook does not exist (exit 2, HTTP 404).</summary>
    NotFound,

    /// <summary>The request is valid but the run's state refuses it (exit 1, HTTP 409).</summary>
    Conflict,

    /// <summary>No or a wrong credential (exit 1, HTTP 401).</summary>
    Unauthorized,

    /// <summary>The credential's role does not allow it (exit 1, HTTP 403).</summary>
    Forbidden,

    /// <summary>The server or store cannot answer (exit 1, HTTP 503).</summary>
    Unavailable,
}

/// <summary>A service call that could not be done, with a message for people.</summary>
public sealed class RunbookServiceException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="RunbookServiceException"/> class.</summary>
    public RunbookServiceException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="RunbookServiceException"/> class.</summary>
    /// <param name="message">The message.</param>
    public RunbookServiceException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="RunbookServiceException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public RunbookServiceException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="RunbookServiceException"/> class.</summary>
    /// <param name="kind">The kind.</param>
    /// <param name="message">The message.</param>
    public RunbookServiceException(ServiceErrorKind kind, string message)
        : base(message)
    {
        Kind = kind;
    }

    /// <summary>Gets the kind of problem.</summary>
    public ServiceErrorKind Kind { get; } = ServiceErrorKind.Conflict;
}
