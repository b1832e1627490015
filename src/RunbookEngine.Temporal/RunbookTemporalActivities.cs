using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RunbookEngine.Workflows;
using Temporalio.Activities;
using Temporalio.Exceptions;

namespace RunbookEngine.Temporal;

/// <summary>
/// The activities a Temporal worker serves for runbooks: every activity of an <see cref="ActivityRegistry"/>
/// (<c>action:&lt;name&gt;</c> and <c>plan:&lt;name&gt;</c> from <c>AddRunbookActions</c>) under its own name, and
/// the local activity that runs a script's own step code.
/// </summary>
public static class RunbookTemporalActivities
{
    /// <summary>
    /// How often a running action heartbeats. Its activities are scheduled with a heartbeat timeout of
    /// <see cref="TemporalActivityOptions.HeartbeatTimeout"/>, so a worker that dies mid-action is noticed by the
    /// server in about that time rather than at the end of the attempt's timeout.
    /// </summary>
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(10);

    /// <summary>Creates the Temporal activity definitions.</summary>
    /// <param name="registry">The activities, as a kernel worker registers them.</param>
    /// <param name="logger">The logger handed to each attempt.</param>
    /// <param name="time">The clock of the heartbeats (the system clock when null).</param>
    /// <returns>The definitions to add to a Temporal worker.</returns>
    public static IReadOnlyList<ActivityDefinition> Create(ActivityRegistry registry, ILogger logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(logger);
        time ??= TimeProvider.System;
        var definitions = new List<ActivityDefinition>();
        foreach (var name in registry.Names)
        {
            registry.TryGet(name, out var body);
            definitions.Add(ActivityDefinition.Create(name, typeof(Task<JsonNode?>), [typeof(ActivityCall)], 1, args => RunAsync(body, (ActivityCall)args[0]!, logger, time)));
        }

        definitions.Add(ActivityDefinition.Create(InlineSteps.ActivityName, typeof(Task<JsonNode?>), [typeof(ActivityCall)], 1, args => RunInlineAsync((ActivityCall)args[0]!, logger)));
        return definitions;
    }

    /// <summary>
    /// Runs one attempt of an activity, heartbeating while it runs (when <paramref name="time"/> is given: local
    /// activities cannot heartbeat), and turns our errors into Temporal failures whose type is the error kind.
    /// </summary>
    internal static async Task<JsonNode?> RunAsync(Func<IStepContext, Task<JsonNode?>> body, ActivityCall call, ILogger logger, TimeProvider? time = null)
    {
        var context = ActivityExecutionContext.Current;
        var step = new TemporalStepContext(context, call, logger, await TemporalStepContext.ProgressAsync(context).ConfigureAwait(false));
        using var beating = new CancellationTokenSource();
        var heartbeats = time is null ? Task.CompletedTask : HeartbeatAsync(step, time, beating.Token);

        // One span per attempt (a retry is a span of its own), in the run's trace, as on the kernel.
        using var span = EngineTelemetry.StartStepAttempt(step.RunId, call.Step, step.Attempt, call.TraceParent);
        span?.SetTag("runbook.activity", context.Info.ActivityType);
        var clock = time ?? TimeProvider.System;
        var started = clock.GetTimestamp();
        try
        {
            var output = await body(step).ConfigureAwait(false);
            EngineTelemetry.EndStepAttempt(span, clock.GetElapsedTime(started), "completed");
            return output;
        }
        catch (OperationCanceledException)
        {
            EngineTelemetry.EndStepAttempt(span, clock.GetElapsedTime(started), "cancelled");
            throw;
        }
        catch (StepException ex)
        {
            EngineTelemetry.EndStepAttempt(span, clock.GetElapsedTime(started), "failed", ex.Kind, ex.Message);
            throw new ApplicationFailureException(ex.Message, ex.Kind, ex.NonRetryable);
        }
        catch (StepFailedException ex)
        {
            EngineTelemetry.EndStepAttempt(span, clock.GetElapsedTime(started), "failed", ex.ErrorKind, ex.Message);
            throw new ApplicationFailureException(ex.Message, ex.ErrorKind);
        }
        catch (Exception ex) when (ex is not FailureException)
        {
            EngineTelemetry.EndStepAttempt(span, clock.GetElapsedTime(started), "failed", ex.GetType().Name, ex.Message);
            throw new ApplicationFailureException(ex.Message, ex.GetType().Name);
        }
        finally
        {
            await beating.CancelAsync().ConfigureAwait(false);
            await heartbeats.ConfigureAwait(false);
        }
    }

    private static async Task HeartbeatAsync(TemporalStepContext step, TimeProvider time, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(HeartbeatInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                // Each heartbeat repeats the progress saved so far: the server keeps the details of the last one.
                step.Heartbeat(step.Progress);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The attempt ended.
        }
    }

    private static Task<JsonNode?> RunInlineAsync(ActivityCall call, ILogger logger)
    {
        var info = ActivityExecutionContext.Current.Info;
        var key = InlineSteps.Key(info.WorkflowId ?? string.Empty, info.WorkflowRunId ?? string.Empty, call.Sequence);
        if (!InlineSteps.TryPeek(key, out var body))
        {
            // Only when the workflow is not in this process any more (evicted or its worker restarted between
            // scheduling and running): retryable, and the replayed workflow leaves the code again.
            throw new ApplicationFailureException($"the code of step '{call.Step}' is not in this worker; it is scheduled again when the run resumes", "InlineStepUnavailable");
        }

        return RunAsync(body, call, logger);
    }
}
