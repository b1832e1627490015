using System.Diagnostics;
using RunbookEngine.Workflows.Execution;

namespace RunbookEngine.Workflows;

/// <summary>
/// The kernel's tracing for engines other than the kernel (Temporal): the same ActivitySource
/// (<c>RunbookEngine.Workflows</c>), the same traceparent for a new run, and the same span per step attempt, so a run
/// shows up in a tracing backend the same way whichever engine runs it.
/// </summary>
public static class EngineTracing
{
    /// <summary>The traceparent a new run records (the alert request's or command's span, else a start span of its own, else none).</summary>
    /// <param name="workflow">The runbook.</param>
    /// <param name="runId">The run.</param>
    /// <returns>The W3C traceparent, or null when nothing traces.</returns>
    public static string? TraceParentForStart(string workflow, string runId) => Telemetry.TraceParentForStart(workflow, runId);

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

        var parent = traceParent is { } tp && ActivityContext.TryParse(tp, null, isRemote: true, out var parsed) ? parsed : Telemetry.DerivedContext(runId);
        var span = Telemetry.Source.StartActivity("step " + step, ActivityKind.Internal, parent);
        span?.SetTag("runbook.run_id", runId);
        span?.SetTag("runbook.step", step);
        span?.SetTag("runbook.step.attempt", attempt);
        return span;
    }

    /// <summary>Records how a step attempt ended on its span (the kernel's tags: outcome, error kind, error status).</summary>
    /// <param name="span">The span.</param>
    /// <param name="outcome"><c>completed</c>, <c>failed</c> or <c>cancelled</c>.</param>
    /// <param name="errorKind">The error kind of a failed attempt.</param>
    /// <param name="message">Its message.</param>
    public static void EndStepAttempt(Activity? span, string outcome, string? errorKind = null, string? message = null)
    {
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
}
