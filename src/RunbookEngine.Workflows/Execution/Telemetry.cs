using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Workflows.Execution;

/// <summary>
/// The assembly's one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named <c>RunbookEngine.Workflows</c>.
/// Nothing is measured or traced unless a listener (an OpenTelemetry provider) subscribes: off costs a null check.
/// </summary>
internal static class Telemetry
{
    public const string Name = "RunbookEngine.Workflows";

    public static readonly ActivitySource Source = new(Name);

    public static readonly Meter Meter = new(Name);

    public static readonly Counter<long> RunsStarted = Meter.CreateCounter<long>("runbook.run.started", "{run}", "Runs created, by workflow (runbook).");

    public static readonly Counter<long> RunsFinished = Meter.CreateCounter<long>("runbook.run.finished", "{run}", "Runs that reached a terminal status, by workflow (runbook) and status.");

    public static readonly Counter<long> GuardDecisions = Meter.CreateCounter<long>("runbook.guard.decisions", "{run}", "Guard admissions of runs, by guard key (runbook and target) and decision (allowed, blocked).");

    public static readonly Histogram<double> StepDuration = Meter.CreateHistogram<double>("runbook.step.duration", "s", "Duration of one step attempt, by outcome.");

    public static readonly Counter<long> StepAttempts = Meter.CreateCounter<long>("runbook.step.attempts", "{attempt}", "Step attempts, by outcome (completed, failed, cancelled).");

    public static readonly Histogram<double> CommitDuration = Meter.CreateHistogram<double>("runbook.store.commit.duration", "s", "Duration of one worker commit to the store (a step's start or outcome, a suspension, a run's end).");

    /// <summary>
    /// Starts the span of one execution of a run by a worker (a run waiting for an approval or a timer is executed
    /// again later, perhaps by another worker after a crash): a child of the trace the run was started in, so
    /// every execution of a run is in one trace.
    /// </summary>
    public static Activity? StartRun(RunRecord run, string? name = null)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var parent = run.TraceParent is { } tp && ActivityContext.TryParse(tp, null, isRemote: true, out var parsed) ? parsed : Derived(run.RunId);
        var span = Source.StartActivity(name ?? "run " + run.WorkflowName, ActivityKind.Internal, parent);
        span?.SetTag("runbook.run_id", run.RunId);
        span?.SetTag("runbook.workflow", run.WorkflowName);
        span?.SetTag("runbook.queue", run.Queue);
        return span;
    }

    /// <summary>
    /// The traceparent a new run records: the current activity's (an alert webhook request, a CLI command), else a
    /// span of its own start when anything listens, else none (its executions then share a trace derived from its id).
    /// </summary>
    public static string? TraceParentForStart(string workflow, string runId)
    {
        if (Activity.Current is { IdFormat: ActivityIdFormat.W3C } current)
        {
            return current.Id;
        }

        using var start = Source.StartActivity("start " + workflow, ActivityKind.Producer);
        start?.SetTag("runbook.run_id", runId);
        start?.SetTag("runbook.workflow", workflow);
        return start?.Id;
    }

    /// <summary>
    /// Adds the timeline events a commit stored to the execution's span (but a step's start and completion, which its
    /// span shows): the kind as the event's name, the actor, and the event's data as its JSON text (not parsed again:
    /// a commit's events are on the step's hot path).
    /// </summary>
    public static void Events(Activity? span, IReadOnlyList<NewTimelineEvent> events)
    {
        if (span is not { IsAllDataRequested: true })
        {
            return;
        }

        foreach (var e in events)
        {
            // A step's start and successful end are its own span already: on every step's path, not repeated as events.
            if (e.Kind is TimelineKinds.StepStarted or TimelineKinds.StepCompleted)
            {
                continue;
            }

            span.AddEvent(new ActivityEvent(e.Kind, e.At, new ActivityTagsCollection { ["runbook.actor"] = e.Actor, ["runbook.data"] = e.Data }));
        }
    }

    /// <summary>
    /// A parent for a run stored without a traceparent: the trace id from the run id's 32 hex digits (a hash of
    /// it otherwise), so that its executions still share one trace.
    /// </summary>
    public static ActivityContext DerivedContext(string runId) => Derived(runId);

    private static ActivityContext Derived(string runId)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(runId));
        var hex = runId.StartsWith("run_", StringComparison.Ordinal) && runId.Length == 36 && runId[4..].All(char.IsAsciiHexDigitLower) ? runId[4..] : Convert.ToHexStringLower(hash, 0, 16);
        return new ActivityContext(ActivityTraceId.CreateFromString(hex), ActivitySpanId.CreateFromBytes(hash.AsSpan(16, 8)), ActivityTraceFlags.Recorded, isRemote: true);
    }
}
