using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;
using Temporalio.Exceptions;
using Temporalio.Workflows;

namespace RunbookEngine.Temporal;

/// <summary>
/// The interpreter's <see cref="RunbookEngine.Workflows.IWorkflowContext"/> over a Temporal workflow: time, randomness and ids from
/// <see cref="Workflow"/>, activities as Temporal activities (on the workflow's task queue or the step's),
/// timers as Temporal timers, and signal waits as wait conditions over the signals the workflow received.
/// </summary>
/// <remarks>
/// Each operation takes the next position, as on the kernel, so step and idempotency keys are the same on both
/// engines. Recorded facts (<see cref="RecordAsync"/>) are kept in the workflow's state, rebuilt identically on
/// replay, and read with the <c>events</c> query.
/// </remarks>
internal sealed class TemporalWorkflowContext : RunbookEngine.Workflows.IWorkflowContext
{
    private readonly TemporalRunInput run;
    private readonly RunJournal journal;
    private int sequence;
    private int shielded;

    public TemporalWorkflowContext(TemporalRunInput run, RunJournal journal)
    {
        this.run = run;
        this.journal = journal;
    }

    public string RunId => Workflow.Info.WorkflowId;

    public string WorkflowName => run.Workflow;

    public string DefinitionHash => run.DefinitionHash;

    public string StartedBy => run.StartedBy;

    public JsonNode? Input => run.Input;

    public DateTimeOffset UtcNow => new(DateTime.SpecifyKind(Workflow.UtcNow, DateTimeKind.Utc));

    public Random Random => Workflow.Random;

    public ILogger Logger => Workflow.Logger;

    public bool IsReplaying => Workflow.Unsafe.IsReplaying;

    public CancellationToken CancellationToken => shielded > 0 ? CancellationToken.None : Workflow.CancellationToken;

    /// <summary>Gets the token to give Temporal's operations: none (the workflow's) unless inside <see cref="UncancellableAsync"/>.</summary>
    private CancellationToken? Detached => shielded > 0 ? CancellationToken.None : null;

    public Guid NewGuid() => Workflow.NewGuid();

    public async Task<JsonNode?> ActivityAsync(string name, string activity, string? queue, JsonNode? input = null, StepOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(activity);
        options ??= StepOptions.Default;
        options.Validate();
        var seq = ++sequence;
        journal.ActivityScheduled(seq, name, activity, queue, input, options, UtcNow);
        try
        {
            var activityOptions = TemporalActivityOptions.For(options, queue, seq, name, activity);
            activityOptions.CancellationToken = Detached;
            var output = await Workflow.ExecuteActivityAsync<JsonNode?>(activity, [new ActivityCall(name, seq, input, run.TraceParent)], activityOptions).ConfigureAwait(true);
            journal.ActivityCompleted(seq, output, UtcNow);
            return output;
        }
        catch (ActivityFailureException ex) when (!TemporalException.IsCanceledException(ex))
        {
            throw Failed(name, seq, ex);
        }
        catch (ActivityFailureException ex) when (Workflow.CancellationToken.IsCancellationRequested)
        {
            // The interpreter sees a cancelled step as the kernel shows it: an OperationCanceledException.
            throw new OperationCanceledException("The run was cancelled.", ex, Workflow.CancellationToken);
        }
    }

    public async Task<T> StepAsync<T>(string name, Func<IStepContext, Task<T>> body, StepOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(body);
        options ??= StepOptions.Default;
        options.Validate();
        var seq = ++sequence;
        var key = InlineSteps.Key(Workflow.Info.WorkflowId, Workflow.Info.RunId, seq);
        InlineSteps.Leave(key, async sc => JsonSerializer.SerializeToNode(await body(sc).ConfigureAwait(false), WorkflowJson.Options));
        journal.ActivityScheduled(seq, name, InlineSteps.ActivityName, null, null, options, UtcNow);
        try
        {
            var localOptions = TemporalActivityOptions.ForLocal(options, seq, name);
            localOptions.CancellationToken = Detached;
            var result = await Workflow.ExecuteLocalActivityAsync<JsonNode?>(InlineSteps.ActivityName, [new ActivityCall(name, seq, null, run.TraceParent)], localOptions).ConfigureAwait(true);
            journal.ActivityCompleted(seq, result, UtcNow);
            return result is null ? default! : result.Deserialize<T>(WorkflowJson.Options)!;
        }
        catch (ActivityFailureException ex) when (!TemporalException.IsCanceledException(ex))
        {
            throw Failed(name, seq, ex);
        }
        catch (ActivityFailureException ex) when (Workflow.CancellationToken.IsCancellationRequested)
        {
            // The interpreter sees a cancelled step as the kernel shows it: an OperationCanceledException.
            throw new OperationCanceledException("The run was cancelled.", ex, Workflow.CancellationToken);
        }
        finally
        {
            InlineSteps.Forget(key);
        }
    }

    public Task RecordAsync(string name, string kind, JsonNode? data = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        if (TimelineKinds.IsKernelKind(kind) || !kind.Contains('.', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{kind}' cannot be recorded by workflow code: use a dotted kind of your own (e.g. approval.granted); the engine's kinds are reserved.", nameof(kind));
        }

        var seq = ++sequence;
        journal.Recorded(seq, name, kind, data, UtcNow);
        return Task.CompletedTask;
    }

    public async Task DelayAsync(TimeSpan duration, string name = "sleep")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var seq = ++sequence;
        var now = UtcNow;
        journal.TimerStarted(seq, name, now + duration, now);
        if (duration > TimeSpan.Zero)
        {
            await Workflow.DelayAsync(duration, Detached).ConfigureAwait(true);
        }

        journal.TimerFired(seq, UtcNow);
    }

    public async Task<ReceivedSignal?> WaitForSignalAsync(string signalName, TimeSpan? timeout = null, string? name = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(signalName);
        if (timeout is { } t && t < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), "A signal wait timeout must not be negative.");
        }

        var seq = ++sequence;
        var start = UtcNow;
        journal.WaitStarted(seq, name ?? signalName, signalName, start + timeout, start);
        bool arrived;
        if (timeout is not { } limit)
        {
            await Workflow.WaitConditionAsync(() => journal.Has(signalName), Detached).ConfigureAwait(true);
            arrived = true;
        }
        else
        {
            // A zero timeout takes a signal already received and starts no timer.
            arrived = limit == TimeSpan.Zero ? journal.Has(signalName) : await Workflow.WaitConditionAsync(() => journal.Has(signalName), limit, Detached).ConfigureAwait(true);
        }

        if (!arrived)
        {
            journal.WaitTimedOut(seq, UtcNow);
            return null;
        }

        return journal.Take(seq, signalName, UtcNow);
    }

    /// <inheritdoc/>
    /// <remarks>Temporal's detached cancellation: the operations inside get a token that is never cancelled.</remarks>
    public async Task UncancellableAsync(Func<Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        shielded++;
        try
        {
            await body().ConfigureAwait(true);
        }
        finally
        {
            shielded--;
        }
    }

    private StepFailedException Failed(string name, int seq, ActivityFailureException ex)
    {
        var (kind, message) = ex.InnerException switch
        {
            ApplicationFailureException af => (af.ErrorType ?? "Unknown", af.Message),
            TimeoutFailureException tf => ("Timeout", $"the step timed out ({tf.TimeoutType})"),
            { } inner => (inner.GetType().Name, inner.Message),
            null => ("ActivityFailed", ex.Message),
        };
        journal.ActivityFailed(seq, kind, message, UtcNow);
        return new StepFailedException(name, seq, kind, message, 0);
    }
}
