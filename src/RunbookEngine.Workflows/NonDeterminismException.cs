namespace RunbookEngine.Workflows;

/// <summary>The workflow code asked for a different step than the run's history recorded at the same position.</summary>
public sealed class NonDeterminismException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="NonDeterminismException"/> class.</summary>
    public NonDeterminismException()
        : this("Non-determinism detected.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="NonDeterminismException"/> class.</summary>
    /// <param name="message">The message.</param>
    public NonDeterminismException(string message)
        : base(message)
    {
        RecordedName = string.Empty;
        RequestedName = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="NonDeterminismException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public NonDeterminismException(string message, Exception innerException)
        : base(message, innerException)
    {
        RecordedName = string.Empty;
        RequestedName = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="NonDeterminismException"/> class.</summary>
    /// <param name="sequence">The position in the run.</param>
    /// <param name="recordedName">What the history recorded there.</param>
    /// <param name="requestedName">What the code asked for now.</param>
    public NonDeterminismException(int sequence, string recordedName, string requestedName)
        : base($"Non-determinism at step position {sequence}: the run's history recorded step '{recordedName}' but the workflow code now asks for '{requestedName}'. The definition this run replays against no longer produces the same sequence of steps.")
    {
        Sequence = sequence;
        RecordedName = recordedName;
        RequestedName = requestedName;
    }

    /// <summary>Gets the position in the run.</summary>
    public int Sequence { get; }

    /// <summary>Gets the recorded step name.</summary>
    public string RecordedName { get; }

    /// <summary>Gets the requested step name.</summary>
    public string RequestedName { get; }
}
