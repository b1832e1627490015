using RunbookEngine.Workflows;
using Temporalio.Workflows;
using TemporalRetryPolicy = Temporalio.Common.RetryPolicy;

namespace RunbookEngine.Temporal;

/// <summary>Our step options as Temporal activity options: the retry policy field by field, the timeouts as Temporal's.</summary>
internal static class TemporalActivityOptions
{
    /// <summary>
    /// The start-to-close timeout of a step that sets neither timeout. Temporal requires one of the two; the kernel
    /// has no default, so this is long enough for any remediation action and documented (docs/operations.md).
    /// </summary>
    public static readonly TimeSpan DefaultAttemptTimeout = TimeSpan.FromHours(1);

    /// <summary>
    /// The activity id of an operation: its position, step name and activity, so Temporal's UI and history name
    /// the step. Replay in this SDK (1.22) compares the kinds and order of commands and the workflow's ending, not
    /// activity ids or types: a run is kept from changing under an edited runbook by the definition pinned in its
    /// input, not by replay (docs/architecture.md, "Runbooks on Temporal").
    /// </summary>
    public static string ActivityId(int sequence, string name, string activity) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{sequence}:{name}:{activity}");

    /// <summary>
    /// The heartbeat timeout of action activities (they heartbeat every
    /// <see cref="RunbookTemporalActivities.HeartbeatInterval"/> while they run): a worker that dies mid-action is
    /// noticed in this time, and the attempt counts as failed with a heartbeat timeout.
    /// </summary>
    public static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(60);

    public static ActivityOptions For(StepOptions options, string? queue, int sequence, string name, string activity) => new()
    {
        // Null: the workflow's own task queue, where the worker that runs the workflow also serves the actions.
        TaskQueue = queue,
        ActivityId = ActivityId(sequence, name, activity),
        Summary = name,
        StartToCloseTimeout = options.AttemptTimeout ?? (options.StepTimeout is null ? DefaultAttemptTimeout : null),
        ScheduleToCloseTimeout = options.StepTimeout,
        HeartbeatTimeout = HeartbeatTimeout,
        RetryPolicy = RetryOf(options.Retry),
    };

    public static LocalActivityOptions ForLocal(StepOptions options, int sequence, string name) => new()
    {
        ActivityId = ActivityId(sequence, name, InlineSteps.ActivityName),
        Summary = name,
        StartToCloseTimeout = options.AttemptTimeout ?? (options.StepTimeout is null ? DefaultAttemptTimeout : null),
        ScheduleToCloseTimeout = options.StepTimeout,
        RetryPolicy = RetryOf(options.Retry),
    };

    public static TemporalRetryPolicy RetryOf(RetryPolicy retry) => new()
    {
        InitialInterval = retry.InitialInterval,
        BackoffCoefficient = (float)retry.BackoffCoefficient,
        MaximumInterval = retry.MaximumInterval,
        MaximumAttempts = retry.MaximumAttempts,
        NonRetryableErrorTypes = [.. retry.NonRetryableErrorKinds],
    };
}
