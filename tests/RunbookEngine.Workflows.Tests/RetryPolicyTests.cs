using RunbookEngine.Workflows;

namespace RunbookEngine.Workflows.Tests;

public sealed class RetryPolicyTests
{
    [Fact]
    public void DelayAfter_grows_by_the_coefficient_and_stops_at_the_maximum()
    {
        var p = new RetryPolicy { InitialInterval = TimeSpan.FromSeconds(2), BackoffCoefficient = 2, MaximumInterval = TimeSpan.FromSeconds(30) };
        Assert.Equal([2, 4, 8, 16, 30, 30], Enumerable.Range(1, 6).Select(a => p.DelayAfter(a).TotalSeconds));
    }

    [Fact]
    public void DelayAfter_does_not_overflow_after_many_attempts()
    {
        var p = new RetryPolicy { BackoffCoefficient = 10, MaximumInterval = TimeSpan.FromHours(1) };
        Assert.Equal(TimeSpan.FromHours(1), p.DelayAfter(10_000));
    }

    [Theory]
    [InlineData(3, 1, "X", true)]
    [InlineData(3, 2, "X", true)]
    [InlineData(3, 3, "X", false)]
    [InlineData(0, 500, "X", true)]
    [InlineData(3, 1, "Forbidden", false)]
    public void AllowsRetry_respects_attempts_and_non_retryable_kinds(int max, int failedAttempt, string kind, bool expected)
    {
        var p = new RetryPolicy { MaximumAttempts = max, NonRetryableErrorKinds = ["Forbidden"] };
        Assert.Equal(expected, p.AllowsRetry(failedAttempt, kind));
    }

    [Fact]
    public void Validate_rejects_incoherent_policies_with_the_reason()
    {
        Assert.Contains("coefficient", Assert.Throws<ArgumentException>(() => new RetryPolicy { BackoffCoefficient = 0.5 }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("maximum interval", Assert.Throws<ArgumentException>(() => new RetryPolicy { InitialInterval = TimeSpan.FromMinutes(5), MaximumInterval = TimeSpan.FromMinutes(1) }.Validate()).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new RetryPolicy { MaximumAttempts = -1 }.Validate());
        Assert.Throws<ArgumentException>(() => new StepOptions { AttemptTimeout = TimeSpan.Zero }.Validate());
    }
}
