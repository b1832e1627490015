using System.Diagnostics;
using RunbookEngine.Workflows.Execution;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Workflows;

/// <summary>
/// The kernel's telemetry for engines other than the kernel (Temporal): the same ActivitySource and Meter
/// (<c>RunbookEngine.Workflows</c>), the same traceparent for a new run, the same span per step attempt and run, and
/// the same run and step metrics, so a run shows up in a tracing and metrics backend the same way whichever engine runs it.
/// </summary>
public static class EngineTelemetry
{
    /// <summary>The traceparent a new run records (the alert request's or command's span, else a start span of its own, else none).</summary>
    /// <param name="workflow">The runbook.</param>
    /// <param name="runId">The run.</param>
    /// <returns>The W3C traceparent, or null when nothing traces.</returns>
    public static string? TraceParentForStart(string workflow, string runId) => Telemetry.TraceParentForStart(workflow, runId);

    /// <summary>Counts a run created (<c>runbook.run.started</c>) and, for a guarded one, its guard's decision (<c>runbook.guard.decisions</c>), by the kernel's client and by other engines' clients alike.</summary>
    /// <param name="workflow">The runbook.</param>
    /// <param name="guardKey">The guard key of a guarded run whose guard is enforced, else null.</param>
    /// <param name="blocked">Whether the guard refused it.</param>
    public static void RunStarted(string workflow, string? guardKey, bool blocked)
    {
        Telemetry.RunsStarted.Add(1, new KeyValuePair<string, object?>("runbook.workflow", workflow));
        if (guardKey is not null)
        {
            Telemetry.GuardDecisions.Add(1, new KeyValuePair<string, object?>("runbook.guard.key", guardKey), new KeyValuePair<string, object?>("decision", blocked ? "blocked" : "allowed"));
        }
    }

    /// <summary>Starts the span of one step attempt, in the run's trace (its traceparent, else one derived from its id as on the kernel).</summary>
    /// <param name="runId">The run.</param>
    /// <param name="step">The step (position) name.</param>
    /// <param name="attempt">The 1-based attempt.</param>
    /// <param name="traceParent">The run's traceparent.</param>
    /// <returns>The span, or null when nothing listens.</returns>
    public static Activity? StartStepAttempt(string runId, string step, int attempt, string? traceParent)
    {
        if (!Telemetry.Source.HasListeners())
        {
            return null;
        }

        var span = Telemetry.Source.StartActivity("step " + step, ActivityKind.Internal, Parent(runId, traceParent));
        span?.SetTag("runbook.run_id", runId);
        span?.SetTag("runbook.step", step);
        span?.SetTag("runbook.step.attempt", attempt);
        return span;
    }

    /// <summary>
    /// Records how a step attempt ended: its span's tags (outcome, error kind, error status) and the kernel's
    /// <c>runbook.step.attempts</c> and <c>runbook.step.duration</c>.
    /// </summary>
    /// <param name="span">The span, or null when nothing traces.</param>
    /// <param name="elapsed">How long the attempt ran.</param>
    /// <param name="outcome"><c>completed</c>, <c>failed</c> or <c>cancelled</c>.</param>
    /// <param name="errorKind">The error kind of a failed attempt.</param>
    /// <param name="message">Its message.</param>
    public static void EndStepAttempt(Activity? span, TimeSpan elapsed, string outcome, string? errorKind = null, string? message = null)
    {
        var end = new KeyValuePair<string, object?>("outcome", outcome);
        Telemetry.StepDuration.Record(elapsed.TotalSeconds, end);
        Telemetry.StepAttempts.Add(1, end);
        if (span is null)
        {
            return;
        }

        span.SetTag("runbook.step.outcome", outcome);
        if (outcome == "failed")
        {
            span.SetTag("runbook.step.error_kind", errorKind);
            span.SetStatus(ActivityStatusCode.Error, message);
        }
    }

    /// <summary>
    /// Records a run that ended on another engine, once (the engine calls it when the end is new, never when it is
    /// replayed): <c>runbook.run.finished</c> (not for a run a guard blocked, which never ran, as on the kernel) and
    /// a span <c>run NAME</c> in the run's trace, from <paramref name="started"/> to <paramref name="ended"/>, with
    /// every timeline event as a span event as a kernel execution has them.
    /// </summary>
    /// <param name="run">The run as it ended.</param>
    /// <param name="started">When it started (the span's start).</param>
    /// <param name="ended">When it ended (the span's end).</param>
    /// <param name="events">Its timeline.</param>
    /// <param name="engine">The engine's name (<c>temporal</c>), as <c>runbook.engine</c>.</param>
    public static void RunEnded(EndedRun run, DateTimeOffset started, DateTimeOffset ended, IReadOnlyList<NewTimelineEvent> events, string engine)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(events);
        if (run.Status != "blocked")
        {
            Telemetry.RunsFinished.Add(1, new KeyValuePair<string, object?>("runbook.workflow", run.Workflow), new KeyValuePair<string, object?>("status", run.Status));
        }

        if (!Telemetry.Source.HasListeners())
        {
            return;
        }

        using var span = Telemetry.Source.StartActivity("run " + run.Workflow, ActivityKind.Internal, Parent(run.RunId, run.TraceParent), startTime: started);
        if (span is null)
        {
            return;
        }

        span.SetTag("runbook.run_id", run.RunId);
        span.SetTag("runbook.workflow", run.Workflow);
        span.SetTag("runbook.queue", run.Queue);
        span.SetTag("runbook.engine", engine);
        span.SetTag("runbook.run.status", run.Status);
        if (run.ErrorKind is not null)
        {
            span.SetTag("runbook.run.error_kind", run.ErrorKind);
        }

        if (run.Status == "failed")
        {
            span.SetStatus(ActivityStatusCode.Error, run.Error);
        }

        Telemetry.Events(span, events);
        span.SetEndTime(ended.UtcDateTime);
    }

    private static ActivityContext Parent(string runId, string? traceParent) =>
        traceParent is { } tp && ActivityContext.TryParse(tp, null, isRemote: true, out var parsed) ? parsed : Telemetry.DerivedContext(runId);
}
