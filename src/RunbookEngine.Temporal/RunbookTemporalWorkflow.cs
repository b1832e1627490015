using System.Text.Json.Nodes;
using RunbookEngine.Workflows;
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

    /// <summary>The query that returns the events the workflow recorded.</summary>
    public const string EventsQuery = "events";

    private readonly IWorkflowResolver resolver;
    private readonly SignalInbox inbox = new();
    private readonly List<RecordedEvent> events = [];

    /// <summary>Initializes a new instance of the <see cref="RunbookTemporalWorkflow"/> class.</summary>
    /// <param name="resolver">Rebuilds the runbook from its pinned definition (a <c>RunbookResolver</c>).</param>
    public RunbookTemporalWorkflow(IWorkflowResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        this.resolver = resolver;
    }

    /// <summary>Gets the events recorded so far, in order.</summary>
    [WorkflowQuery(EventsQuery)]
    public IReadOnlyList<RecordedEvent> Events => events;

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
            throw new ApplicationFailureException($"The pinned definition of runbook '{input.Workflow}' could not be loaded: {ex.Message}", "DefinitionInvalid", nonRetryable: true);
        }

        if (function is null)
        {
            throw new ApplicationFailureException($"This worker cannot run runbook '{input.Workflow}' at definition {definition.Hash[..12]}.", "DefinitionUnavailable", nonRetryable: true);
        }

        try
        {
            return await function(new TemporalWorkflowContext(input, inbox, events)).ConfigureAwait(true);
        }
        catch (StepFailedException ex)
        {
            throw new ApplicationFailureException(ex.Message, ex.ErrorKind, nonRetryable: true);
        }
        catch (StepException ex)
        {
            throw new ApplicationFailureException(ex.Message, ex.Kind, nonRetryable: true);
        }
    }

    /// <summary>Receives an interpreter signal; it is kept until the workflow waits for its name.</summary>
    /// <param name="signal">The signal.</param>
    /// <returns>A completed task.</returns>
    [WorkflowSignal(SignalName)]
    public Task SignalAsync(TemporalSignal signal)
    {
        ArgumentNullException.ThrowIfNull(signal);
        inbox.Add(new ReceivedSignal(signal.Name, signal.Payload, signal.Sender, new DateTimeOffset(DateTime.SpecifyKind(Workflow.UtcNow, DateTimeKind.Utc))));
        return Task.CompletedTask;
    }
}
