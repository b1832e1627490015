using System.Text.Json.Nodes;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;
using Temporalio.Exceptions;
using Temporalio.Workflows;
using KernelDefinition = RunbookEngine.Workflows.WorkflowDefinition;

namespace RunbookEngine.Temporal;

/// <summary>
/// Every runbook as one Temporal workflow type, <c>runbook</c>: it rebuilds the runbook from the definition in its
/// input (pinned, as on the kernel) and runs the same interpreter over a <see cref="TemporalWorkflowContext"/>.
/// </summary>
/// <remarks>
/// A step that fails for good fails the workflow with an application failure whose type is the step's error kind
/// (<c>Rejected</c>, <c>VerifyFailed</c>, ...), never the workflow task, which Temporal would retry for ever.
/// </remarks>
[Workflow(TypeName)]
public sealed class RunbookTemporalWorkflow
{
    /// <summary>The Temporal workflow type of runbooks.</summary>
    public const string TypeName = "runbook";

    /// <summary>The Temporal signal that carries every interpreter signal (approval decisions).</summary>
    public const string SignalName = "signal";

    /// <summary>The query that returns the run's journal (steps, timeline events, signals not yet taken).</summary>
    public const string JournalQuery = "journal";

    /// <summary>The interpreter signal name that asks to cancel: sent (with who and why) just before Temporal's cancel request.</summary>
    public const string CancelSignal = "run.cancel";

    /// <summary>The interpreter signal name that appends an event from outside the run to its timeline.</summary>
    public const string AnnotateSignal = "run.annotate";

    private readonly IWorkflowResolver resolver;
    private readonly RunJournal journal = new();
    private (string By, string? Reason)? cancelRequest;
    private TemporalRunInput? run;

    /// <summary>Initializes a new instance of the <see cref="RunbookTemporalWorkflow"/> class.</summary>
    /// <param name="resolver">Rebuilds the runbook from its pinned definition (a <c>RunbookResolver</c>).</param>
    public RunbookTemporalWorkflow(IWorkflowResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        this.resolver = resolver;
    }

    /// <summary>Gets the run's journal as it stands.</summary>
    [WorkflowQuery(JournalQuery)]
    public RunJournalSnapshot Journal => journal.Snapshot();

    /// <summary>The Temporal definition of this workflow, created with the resolver its instances use.</summary>
    /// <param name="resolver">The resolver.</param>
    /// <returns>The definition to add to a worker or a replayer.</returns>
    public static Temporalio.Workflows.WorkflowDefinition Definition(IWorkflowResolver resolver) =>
        Temporalio.Workflows.WorkflowDefinition.Create(typeof(RunbookTemporalWorkflow), TypeName, _ => new RunbookTemporalWorkflow(resolver));

    /// <summary>Runs the runbook.</summary>
    /// <param name="input">The pinned definition and the run's input.</param>
    /// <returns>The runbook's outputs.</returns>
    [WorkflowRun]
    public async Task<JsonNode?> RunAsync(TemporalRunInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        run = input;
        journal.Created(Utc(Workflow.Info.WorkflowStartTime), input.StartedBy, input.Created ?? new JsonObject { ["workflow"] = input.Workflow, ["definition_hash"] = input.DefinitionHash });
        if (input.GuardKind is { } guardKind)
        {
            // Decided by the guard in the store before the workflow started, as the kernel records it.
            journal.Event(Utc(Workflow.Info.WorkflowStartTime), "guard", guardKind, input.GuardData);
        }
        if (input.Blocked is { } blocked)
        {
            // Refused by a guard when it asked to start: it ends at once, visible in Temporal as in our CLI.
            throw Fail(new ApplicationFailureException(blocked, BlockedErrorType, nonRetryable: true));
        }

        var definition = new KernelDefinition(input.Workflow, input.DefinitionContent);
        WorkflowFunction? function;
        try
        {
            function = await resolver.ResolveAsync(definition, CancellationToken.None).ConfigureAwait(true);
        }
#pragma warning disable CA1031 // A definition that no longer loads fails its run with the reason, as on the kernel.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            throw Fail(new ApplicationFailureException($"The pinned definition of runbook '{input.Workflow}' could not be loaded: {ex.Message}", "DefinitionInvalid", nonRetryable: true));
        }

        if (function is null)
        {
            throw Fail(new ApplicationFailureException($"This worker cannot run runbook '{input.Workflow}' at definition {definition.Hash[..12]}.", "DefinitionUnavailable", nonRetryable: true));
        }

        try
        {
            var output = await function(new TemporalWorkflowContext(input, journal)).ConfigureAwait(true);
            journal.Event(Now, RunJournal.Actor, TimelineKinds.RunCompleted, TimelineData.Of(("output", output)));
            Ended("completed");
            return output;
        }
        catch (StepFailedException ex)
        {
            throw Fail(new ApplicationFailureException(ex.Message, ex.ErrorKind, nonRetryable: true));
        }
        catch (StepException ex)
        {
            throw Fail(new ApplicationFailureException(ex.Message, ex.Kind, nonRetryable: true));
        }
        catch (Exception ex) when (Workflow.CancellationToken.IsCancellationRequested && (ex is OperationCanceledException || TemporalException.IsCanceledException(ex)))
        {
            journal.Event(Now, RunJournal.Actor, TimelineKinds.RunCancelled, TimelineData.Of(("requested_by", cancelRequest?.By), ("reason", cancelRequest?.Reason)));
            Ended("cancelled");
            throw;
        }
    }

    /// <summary>The Temporal failure type of a run a guard refused (shown as <c>blocked</c>).</summary>
    public const string BlockedErrorType = "GuardBlocked";

    private static DateTimeOffset Now => Utc(Workflow.UtcNow);

    private static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));

    private ApplicationFailureException Fail(ApplicationFailureException failure)
    {
        journal.Event(Now, RunJournal.Actor, TimelineKinds.RunFailed, TimelineData.Of(("error_kind", failure.ErrorType), ("error", failure.Message)));
        Ended(failure.ErrorType == BlockedErrorType ? "blocked" : "failed", failure.ErrorType, failure.Message);
        return failure;
    }

    /// <summary>
    /// The run's end, told to telemetry once: by the worker whose workflow task ended it, never again when a later
    /// worker replays that end (its span covers the whole run, from the workflow's start, with the journal's events).
    /// </summary>
    private void Ended(string status, string? errorKind = null, string? error = null)
    {
        if (Workflow.Unsafe.IsReplaying || run is null)
        {
            return;
        }

        var ended = new EndedRun(Workflow.Info.WorkflowId, run.Workflow, Workflow.Info.TaskQueue, run.TraceParent, status, errorKind, error);
        EngineTelemetry.RunEnded(ended, Utc(Workflow.Info.WorkflowStartTime), Now, journal.Snapshot().Events, "temporal");
    }

    /// <summary>Receives an interpreter signal; it is kept until the workflow waits for its name.</summary>
    /// <param name="signal">The signal.</param>
    /// <returns>A completed task.</returns>
    [WorkflowSignal(SignalName)]
    public Task SignalAsync(TemporalSignal signal)
    {
        ArgumentNullException.ThrowIfNull(signal);
        switch (signal.Name)
        {
            case CancelSignal:
                var reason = signal.Payload?["reason"]?.GetValue<string>();
                cancelRequest = (signal.Sender, reason);
                journal.Event(Now, signal.Sender, TimelineKinds.RunCancelRequested, TimelineData.Of(("reason", reason)));
                break;
            case AnnotateSignal:
                var kind = signal.Payload?["kind"]?.GetValue<string>();
                if (kind is not null && kind.Contains('.', StringComparison.Ordinal) && !TimelineKinds.IsKernelKind(kind))
                {
                    journal.Event(Now, signal.Sender, kind, signal.Payload?["data"]?.ToJsonString(WorkflowJson.Options));
                }

                break;
            default:
                journal.Received(signal.Name, signal.Payload, signal.Sender, Now);
                break;
        }

        return Task.CompletedTask;
    }
}
