namespace RunbookEngine.Workflows;

/// <summary>Options of one durable step.</summary>
public sealed record StepOptions
{
    /// <summary>Gets the default options: <see cref="RetryPolicy.Default"/>, no timeouts, inline.</summary>
    public static StepOptions Default { get; } = new();

    /// <summary>Gets the retry policy. Default <see cref="RetryPolicy.Default"/>.</summary>
    public RetryPolicy Retry { get; init; } = RetryPolicy.Default;

    /// <summary>Gets the limit on one attempt; the attempt's token is cancelled and it fails with kind <c>Timeout</c>. Default none.</summary>
    public TimeSpan? AttemptTimeout { get; init; }

    /// <summary>Gets the limit on the whole step, from the start of its first attempt, back-off included. Default none.</summary>
    public TimeSpan? StepTimeout { get; init; }

    /// <summary>Checks that the options are coherent.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        Retry.Validate();
        if (AttemptTimeout is { } a && a <= TimeSpan.Zero)
        {
            throw new ArgumentException("Attempt timeout must be positive.");
        }

        if (StepTimeout is { } s && s <= TimeSpan.Zero)
        {
            throw new ArgumentException("Step timeout must be positive.");
        }
    }
}
