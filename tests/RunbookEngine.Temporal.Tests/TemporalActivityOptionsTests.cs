using RunbookEngine.Workflows;

namespace RunbookEngine.Temporal.Tests;

/// <summary>A step's retry and timeouts as Temporal's activity options, field by field.</summary>
public sealed class TemporalActivityOptionsTests
{
    [Fact]
    public void A_steps_retry_policy_and_timeouts_become_temporals()
    {
        var step = new StepOptions
        {
            Retry = new RetryPolicy { InitialInterval = TimeSpan.FromSeconds(10), BackoffCoefficient = 3, MaximumInterval = TimeSpan.FromMinutes(2), MaximumAttempts = 4, NonRetryableErrorKinds = ["InvalidInput"] },
            AttemptTimeout = TimeSpan.FromMinutes(5),
            StepTimeout = TimeSpan.FromMinutes(20),
        };

        var options = TemporalActivityOptions.For(step, "gpu-workers", 7, "restart", "action:shell");

        Assert.Equal("gpu-workers", options.TaskQueue);
        Assert.Equal("7:restart:action:shell", options.ActivityId);
        Assert.Equal(TimeSpan.FromMinutes(5), options.StartToCloseTimeout);
        Assert.Equal(TimeSpan.FromMinutes(20), options.ScheduleToCloseTimeout);
        Assert.Equal(TemporalActivityOptions.HeartbeatTimeout, options.HeartbeatTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), options.RetryPolicy!.InitialInterval);
        Assert.Equal(3f, options.RetryPolicy.BackoffCoefficient);
        Assert.Equal(TimeSpan.FromMinutes(2), options.RetryPolicy.MaximumInterval);
        Assert.Equal(4, options.RetryPolicy.MaximumAttempts);
        Assert.Equal(["InvalidInput"], options.RetryPolicy.NonRetryableErrorTypes);
    }

    [Fact]
    public void A_step_without_timeouts_gets_the_documented_attempt_timeout_and_no_retries_stay_none()
    {
        var options = TemporalActivityOptions.For(new StepOptions { Retry = RetryPolicy.None }, null, 1, "check", "action:http");

        Assert.Null(options.TaskQueue);
        Assert.Equal(TemporalActivityOptions.DefaultAttemptTimeout, options.StartToCloseTimeout);
        Assert.Null(options.ScheduleToCloseTimeout);
        Assert.Equal(1, options.RetryPolicy!.MaximumAttempts);
    }

    [Fact]
    public void A_step_with_only_a_total_timeout_is_bounded_by_it_alone()
    {
        var options = TemporalActivityOptions.For(new StepOptions { StepTimeout = TimeSpan.FromMinutes(3) }, null, 2, "scale", "action:kubernetes");

        Assert.Null(options.StartToCloseTimeout);
        Assert.Equal(TimeSpan.FromMinutes(3), options.ScheduleToCloseTimeout);
    }
}
