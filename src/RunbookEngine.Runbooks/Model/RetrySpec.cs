namespace RunbookEngine.Runbooks.Model;

/// <summary>A step's retry policy.</summary>
/// <param name="MaxAttempts">Attempts including the first.</param>
/// <param name="InitialInterval">The first back-off.</param>
/// <param name="Backoff">The back-off multiplier.</param>
/// <param name="MaxInterval">The largest back-off.</param>
/// <param name="NonRetryable">Error kinds that are not retried.</param>
public sealed record RetrySpec(int MaxAttempts, TimeSpan InitialInterval, double Backoff, TimeSpan MaxInterval, IReadOnlyList<string> NonRetryable);
