namespace RunbookEngine.Workflows;

/// <summary>How a failed step attempt is retried (Temporal's retry policy).</summary>
/// <remarks>
/// Defaults: 3 attempts, 1 s initial interval, back-off coefficient 2, maximum interval 60 s, every error
/// kind retryable. The delay before attempt n+1 is <c>min(initial * coefficient^(n-1), maximum)</c>.
/// </remarks>
public sealed record RetryPolicy
{
    /// <summary>Gets a policy with a single attempt (no retry).</summary>
    public static RetryPolicy None { get; } = new() { MaximumAttempts = 1 };

    /// <summary>Gets the default policy.</summary>
    public static RetryPolicy Default { get; } = new();

    /// <summary>Gets the delay before the first retry. Default 1 s.</summary>
    public TimeSpan InitialInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets the multiplier applied to the delay after each retry. Default 2.0; at least 1.</summary>
    public double BackoffCoefficient { get; init; } = 2.0;

    /// <summary>Gets the cap on the delay between attempts. Default 60 s.</summary>
    public TimeSpan MaximumInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Gets the maximum number of attempts including the first; 0 means unlimited. Default 3.</summary>
    public int MaximumAttempts { get; init; } = 3;

    /// <summary>Gets the error kinds that are never retried (exception type names or <see cref="StepException.Kind"/>).</summary>
    public IReadOnlyList<string> NonRetryableErrorKinds { get; init; } = [];

    /// <summary>Checks that the policy is coherent.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (InitialInterval < TimeSpan.Zero)
        {
            throw new ArgumentException("Retry initial interval must not be negative.");
        }

        if (BackoffCoefficient < 1.0 || double.IsNaN(BackoffCoefficient) || double.IsInfinity(BackoffCoefficient))
        {
            throw new ArgumentException($"Retry backoff coefficient must be a finite number >= 1 (was {BackoffCoefficient}).");
        }

        if (MaximumInterval < InitialInterval)
        {
            throw new ArgumentException($"Retry maximum interval ({MaximumInterval}) must not be smaller than the initial interval ({InitialInterval}).");
        }

        if (MaximumAttempts < 0)
        {
            throw new ArgumentException("Retry maximum attempts must be 0 (unlimited) or positive.");
        }
    }

    /// <summary>Computes the delay after a failed attempt.</summary>
    /// <param name="failedAttempt">The 1-based number of the attempt that failed.</param>
    /// <returns>The delay before the next attempt.</returns>
    public TimeSpan DelayAfter(int failedAttempt)
    {
        var factor = Math.Pow(BackoffCoefficient, Math.Max(0, failedAttempt - 1));
        var ticks = InitialInterval.Ticks * factor;
        return ticks >= MaximumInterval.Ticks || double.IsInfinity(ticks) ? MaximumInterval : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>Whether another attempt is allowed after <paramref name="failedAttempt"/> failed with <paramref name="errorKind"/>.</summary>
    /// <param name="failedAttempt">The 1-based attempt that failed.</param>
    /// <param name="errorKind">The error kind.</param>
    /// <returns><see langword="true"/> when a retry is allowed.</returns>
    public bool AllowsRetry(int failedAttempt, string errorKind) =>
        (MaximumAttempts == 0 || failedAttempt < MaximumAttempts)
        && !NonRetryableErrorKinds.Contains(errorKind, StringComparer.Ordinal);
}
