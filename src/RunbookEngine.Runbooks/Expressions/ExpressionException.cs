namespace RunbookEngine.Runbooks.Expressions;

/// <summary>An expression that cannot be parsed or evaluated; <see cref="Offset"/> is the position within the expression text.</summary>
public sealed class ExpressionException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="ExpressionException"/> class.</summary>
    public ExpressionException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="ExpressionException"/> class.</summary>
    /// <param name="message">The message.</param>
    public ExpressionException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="ExpressionException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public ExpressionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="ExpressionException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="offset">0-based offset in the expression text.</param>
    public ExpressionException(string message, int offset)
        : base(message)
    {
        Offset = offset;
    }

    /// <summary>Gets the 0-based offset in the expression text where the problem is.</summary>
    public int Offset { get; }
}
