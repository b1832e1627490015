using System.Diagnostics;

namespace RunbookEngine.Workflows.Execution;

/// <summary>
/// The one place where an attempt is started, limited, classified and retried or failed, for a run's own steps
/// and for activities on task queues alike.
/// </summary>
internal static class StepAttempts
{
    /// <summary>The error kind, message and retryability of what an attempt threw.</summary>
    public static (string Kind, string Message, bool NonRetryable) Classify(Exception ex) => ex switch
    {
        StepException se => (se.Kind, se.Message, se.NonRetryable),
        StepFailedException sf => (sf.ErrorKind, sf.Message, false),
        _ => (ex.GetType().Name, ex.Message, false),
    };

    /// <summary>When the step timeout ends, counted from the start of the first attempt; null without one.</summary>
    public static DateTimeOffset? Deadline(StepOptions options, DateTimeOffset? firstStart) =>
        options.StepTimeout is { } st && firstStart is { } s ? s + st : null;

    /// <summary>The limit on this attempt: the attempt timeout, shortened to what is left of the step timeout.</summary>
    public static TimeSpan? Limit(StepOptions options, DateTimeOffset? deadline, DateTimeOffset now)
    {
        var limit = options.AttemptTimeout;
        if (deadline is { } d)
        {
            var remaining = d - now;
            limit = limit is { } a && a < remaining ? a : remaining;
        }

        return limit;
    }

    /// <summary>Why an attempt must not start at all, or null when it may.</summary>
    /// <param name="options">The step's options.</param>
    /// <param name="attempt">The attempt about to start.</param>
    /// <param name="interrupted">Whether the previous attempt was interrupted (its worker died or lost its lease).</param>
    /// <param name="deadline">The step's deadline.</param>
    /// <param name="now">The time.</param>
    /// <returns>The final error kind and message, or null.</returns>
    public static (string Kind, string Message)? Refusal(StepOptions options, int attempt, bool interrupted, DateTimeOffset? deadline, DateTimeOffset now)
    {
        // At-least-once: an interrupted attempt is retried even under a single-attempt policy, but a step that
        // keeps killing its worker stops after one attempt beyond the policy.
        var max = options.Retry.MaximumAttempts;
        if (interrupted && max != 0 && attempt > max + 1)
        {
            return ("Interrupted", $"attempt {attempt - 1} was interrupted and the retry policy allows no more attempts");
        }

        if (deadline is { } d && now >= d)
        {
            return ("Timeout", $"step did not finish within its step timeout of {options.StepTimeout}");
        }

        return null;
    }

    /// <summary>When the next attempt after a failed one is due, or null when the failure is final.</summary>
    public static DateTimeOffset? RetryAt(StepOptions options, int attempt, string kind, bool nonRetryable, DateTimeOffset end, DateTimeOffset? deadline)
    {
        if (nonRetryable || !options.Retry.AllowsRetry(attempt, kind))
        {
            return null;
        }

        var next = end + options.Retry.DelayAfter(attempt);
        return deadline is null || next < deadline ? next : null;
    }

    /// <summary>Runs one attempt of a step body under its time limit and says how it ended.</summary>
    /// <param name="body">The step code.</param>
    /// <param name="context">Builds the attempt's context around its token.</param>
    /// <param name="options">The step's options.</param>
    /// <param name="attempt">The attempt number.</param>
    /// <param name="deadline">The step's deadline.</param>
    /// <param name="time">The clock of timeouts and durations.</param>
    /// <param name="runCancelled">Cancelled when the run's cancellation is requested.</param>
    /// <param name="abandoned">Cancelled when the worker gives the work up (shutdown, lost lease).</param>
    public static async Task<AttemptOutcome<T>> RunAsync<T>(
        Func<IStepContext, Task<T>> body,
        Func<CancellationToken, IStepContext> context,
        StepOptions options,
        int attempt,
        DateTimeOffset? deadline,
        TimeProvider time,
        CancellationToken runCancelled,
        CancellationToken abandoned)
    {
        var limit = Limit(options, deadline, time.GetUtcNow());
        using var timeoutCts = limit is { } l ? new CancellationTokenSource(l, time) : null;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(runCancelled, abandoned, timeoutCts?.Token ?? CancellationToken.None);
        var stepContext = context(linked.Token);
        using var span = Telemetry.Source.StartActivity("step " + stepContext.StepName);
        span?.SetTag("runbook.run_id", stepContext.RunId);
        span?.SetTag("runbook.step", stepContext.StepName);
        span?.SetTag("runbook.step.attempt", attempt);
        var started = time.GetTimestamp();
        AttemptOutcome<T> outcome;
        try
        {
            outcome = new(AttemptEnd.Completed, await body(stepContext).ConfigureAwait(false), null, null, false, TimeSpan.Zero);
        }
        catch (OperationCanceledException) when (abandoned.IsCancellationRequested)
        {
            outcome = new(AttemptEnd.Abandoned, default, null, null, false, TimeSpan.Zero);
        }
        catch (OperationCanceledException) when (runCancelled.IsCancellationRequested)
        {
            outcome = new(AttemptEnd.Cancelled, default, "Cancelled", "run cancelled during the step", true, TimeSpan.Zero);
        }
        catch (OperationCanceledException) when (timeoutCts?.IsCancellationRequested == true)
        {
            outcome = new(AttemptEnd.Failed, default, "Timeout", $"attempt {attempt} exceeded its timeout of {limit}", false, TimeSpan.Zero);
        }
#pragma warning disable CA1031 // Whatever step code throws is the attempt's outcome.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            var (kind, message, nonRetryable) = Classify(ex);
            outcome = new(AttemptEnd.Failed, default, kind, message, nonRetryable, TimeSpan.Zero);
        }

        var elapsed = time.GetElapsedTime(started);
        var end = new KeyValuePair<string, object?>("outcome", outcome.End switch
        {
            AttemptEnd.Completed => "completed",
            AttemptEnd.Failed => "failed",
            AttemptEnd.Cancelled => "cancelled",
            _ => "abandoned",
        });
        Telemetry.StepDuration.Record(elapsed.TotalSeconds, end);
        Telemetry.StepAttempts.Add(1, end);
        span?.SetTag("runbook.step.outcome", end.Value);
        if (outcome.End == AttemptEnd.Failed)
        {
            span?.SetTag("runbook.step.error_kind", outcome.Kind);
            span?.SetStatus(ActivityStatusCode.Error, outcome.Message);
        }

        return outcome with { Elapsed = elapsed };
    }
}

/// <summary>How an attempt ended.</summary>
internal enum AttemptEnd
{
    /// <summary>The body returned.</summary>
    Completed,

    /// <summary>The body threw or timed out.</summary>
    Failed,

    /// <summary>The run's cancellation was requested during the attempt.</summary>
    Cancelled,

    /// <summary>The worker gave the attempt up; nothing is to be recorded and it is retried elsewhere.</summary>
    Abandoned,
}

/// <summary>An attempt's end, value or error, and duration.</summary>
internal readonly record struct AttemptOutcome<T>(AttemptEnd End, T? Value, string? Kind, string? Message, bool NonRetryable, TimeSpan Elapsed);
