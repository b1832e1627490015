using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Workflows.Execution;

/// <summary>
/// One execution of a run by the worker that leases it: replays the workflow function against the recorded
/// history, executes what is new, and commits the outcome under the lease.
/// </summary>
/// <remarks>
/// Durability rule: a step's start is committed before its code runs, so an attempt interrupted by a crash is
/// known and retried with the next attempt number. A step's completion is committed with the next write of the
/// run (the next step's start, a suspension, or the run's outcome): only deterministic workflow code runs in
/// between, so a crash there is indistinguishable from a crash during the step, and the step is retried
/// (at-least-once). This halves the commits per step, as Temporal does for local activities.
/// A suspended or aborted execution is abandoned: its workflow task is left waiting on a task that never
/// completes and is collected; the run's state lives in the store.
/// </remarks>
internal sealed class RunExecution
{
    private readonly IWorkflowStore store;
    private readonly ActivityRegistry? activities;
    private readonly TimeProvider time;
    private readonly WorkerOptions options;
    private readonly ILogger logger;
    private readonly string actor;
    private readonly RunHistory history;
    private readonly Dictionary<int, StepRecord> recorded;
    private readonly List<SignalRecord> pendingSignals;
    private readonly List<StepWrite> pendingSteps = [];
    private readonly List<(long SignalId, int Sequence)> pendingConsumed = [];
    private readonly List<NewTimelineEvent> pendingEvents = [];
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationToken runCancelled;
    private int shielded;
    private readonly CancellationToken abandoned;
    private RunTransition? suspension;
    private Exception? abortReason;
    private int sequence;
    private bool operationInFlight;
    private DateTimeOffset workflowTime;

    public RunExecution(
        IWorkflowStore store,
        ActivityRegistry? activities,
        TimeProvider time,
        WorkerOptions options,
        ILogger logger,
        RunHistory history,
        CancellationToken runCancelled,
        CancellationToken abandoned)
    {
        this.store = store;
        this.activities = activities;
        this.time = time;
        this.options = options;
        this.logger = logger;
        this.history = history;
        this.runCancelled = runCancelled;
        this.abandoned = abandoned;
        actor = "worker:" + options.WorkerId;
        recorded = history.Steps.ToDictionary(s => s.Sequence);
        pendingSignals = [.. history.PendingSignals];
        workflowTime = history.Run.CreatedAt;
        Random = new Random(SeedOf(history.Run.RunId));
    }

    public RunRecord Run => history.Run;

    /// <summary>Gets the span of this execution (null when nothing traces): commits add their timeline events to it.</summary>
    public System.Diagnostics.Activity? Span { get; init; }

    public Random Random { get; }

    public DateTimeOffset WorkflowTime => workflowTime;

    /// <summary>Gets the run's cancellation, or none inside <see cref="UncancellableAsync"/>.</summary>
    public CancellationToken CancellationToken => shielded > 0 ? CancellationToken.None : runCancelled;

    public bool IsReplaying => recorded.TryGetValue(sequence + 1, out var next) && next.Status is StepStatus.Completed or StepStatus.Failed;

    public ILogger Logger => logger;

    /// <summary>
    /// The clock at the store's precision (milliseconds), so that a time recorded live and the same time read
    /// back on replay are equal and <see cref="WorkflowTime"/> is identical on both paths.
    /// </summary>
    private DateTimeOffset Now
    {
        get
        {
            var t = time.GetUtcNow();
            return new DateTimeOffset(t.UtcTicks - (t.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
        }
    }

    /// <summary>Runs the workflow function to its outcome or suspension and commits the result.</summary>
    public async Task ExecuteAsync(WorkflowFunction function, IWorkflowContext context, CancellationToken cancellationToken)
    {
        Task<JsonNode?> workflowTask;
        try
        {
            workflowTask = function(context);
        }
#pragma warning disable CA1031 // Any exception thrown by user workflow code is the run's outcome, not ours.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            workflowTask = Task.FromException<JsonNode?>(ex);
        }

        await Task.WhenAny(workflowTask, stopped.Task).ConfigureAwait(false);
        if (stopped.Task.IsCompleted)
        {
            if (abortReason is not null)
            {
                await HandleAbortAsync(abortReason, cancellationToken).ConfigureAwait(false);
                return;
            }

            // Suspended: commit the pending writes with the waiting transition.
            await CommitOutcomeAsync(suspension!, cancellationToken).ConfigureAwait(false);
            return;
        }

        RunTransition outcome;
        NewTimelineEvent outcomeEvent;
        var now = Now;
        if (workflowTask.IsCompletedSuccessfully)
        {
            var output = workflowTask.Result?.ToJsonString(WorkflowJson.Options);
            outcome = new RunTransition(RunStatus.Completed, Output: output);
            outcomeEvent = new(now, actor, TimelineKinds.RunCompleted, TimelineData.Of(("output", workflowTask.Result)));
            Finished("completed");
        }
        else
        {
            // An async method that throws OperationCanceledException ends Canceled, with no Exception to read.
            Exception ex = workflowTask.IsCanceled
                ? new OperationCanceledException("The workflow was cancelled.")
                : workflowTask.Exception!.InnerExceptions.Count == 1 ? workflowTask.Exception.InnerException! : workflowTask.Exception;
            if (ex is OperationCanceledException && runCancelled.IsCancellationRequested)
            {
                // A cancel requested while this execution ran reached it through the lease renewal, which carries no
                // who or why: those are read from the store, so the timeline's run.cancelled says them either way.
                var request = Run.CancelRequestedBy is null ? await store.GetRunAsync(Run.RunId, cancellationToken).ConfigureAwait(false) ?? Run : Run;
                var reason = request.CancelReason ?? "cancellation requested";
                outcome = new RunTransition(RunStatus.Cancelled, ErrorKind: "Cancelled", ErrorMessage: reason);
                outcomeEvent = new(now, actor, TimelineKinds.RunCancelled, TimelineData.Of(("requested_by", request.CancelRequestedBy), ("reason", reason)));
                Finished("cancelled");
            }
            else
            {
                var (kind, message) = ex switch
                {
                    StepFailedException sf => (sf.ErrorKind, sf.Message),
                    StepException se => (se.Kind, se.Message),
                    _ => (ex.GetType().Name, ex.Message),
                };
                outcome = new RunTransition(RunStatus.Failed, ErrorKind: kind, ErrorMessage: message);
                outcomeEvent = new(now, actor, TimelineKinds.RunFailed, TimelineData.Of(("error_kind", kind), ("error", message)));
                Finished("failed");
                Span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, $"{kind}: {message}");
            }
        }

        pendingEvents.Add(outcomeEvent);
        await CommitOutcomeAsync(outcome, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Fails the run at once, e.g. because its definition cannot be resolved.</summary>
    public async Task FailAsync(string kind, string message, CancellationToken cancellationToken)
    {
        pendingEvents.Add(new(Now, actor, TimelineKinds.RunFailed, TimelineData.Of(("error_kind", kind), ("error", message))));
        await CommitOutcomeAsync(new RunTransition(RunStatus.Failed, ErrorKind: kind, ErrorMessage: message), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs workflow code whose operations a cancellation of the run does not stop (compensation, cleanup).</summary>
    public async Task UncancellableAsync(Func<Task> body)
    {
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

    public Guid NewGuid()
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.NextBytes(bytes);
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4 layout (little-endian field order of Guid)
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes);
    }

    public Task<T> StepAsync<T>(string name, Func<IStepContext, Task<T>> body, StepOptions? stepOptions) =>
        StepAsync(name, body, null, stepOptions, null);

    /// <summary>
    /// Runs a registered activity in this worker as one of the run's own steps: checkpointed, retried and timed
    /// out exactly like workflow code, recorded as an inline step (so runs recorded before activities ran inline
    /// replay unchanged).
    /// </summary>
    public Task<JsonNode?> LocalActivityAsync(string name, string activity, JsonNode? input, StepOptions? stepOptions)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(activity);
        if (activities is null || !activities.TryGet(activity, out var body))
        {
            var message = $"activity '{activity}' is not registered with worker {options.WorkerId}";
            body = _ => throw new StepException("UnknownActivity", message, nonRetryable: true);
        }

        return StepAsync(name, body, input, stepOptions, activity);
    }

    private async Task<T> StepAsync<T>(string name, Func<IStepContext, Task<T>> body, JsonNode? input, StepOptions? stepOptions, string? activity)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(body);
        stepOptions ??= StepOptions.Default;
        stepOptions.Validate();
        Enter();
        var seq = ++sequence;
        int attempt;
        DateTimeOffset firstStart;
        bool isNew;
        if (recorded.TryGetValue(seq, out var rec))
        {
            if (Mismatch(rec, StepKind.Inline, name) is { } nd)
            {
                return await AbortAsync<T>(nd).ConfigureAwait(false);
            }

            switch (rec.Status)
            {
                case StepStatus.Completed:
                    Advance(rec.CompletedAt);
                    Exit();
                    return Deserialize<T>(rec.Output);
                case StepStatus.Failed:
                    Advance(rec.CompletedAt);
                    Exit();
                    throw FailedFrom(rec);
                case StepStatus.Running:
                    ThrowIfCancelled();
                    pendingEvents.Add(new(Now, actor, TimelineKinds.StepInterrupted, TimelineData.Of(("seq", seq), ("step", name), ("attempt", rec.Attempt), ("owner_lost", true))));
                    attempt = rec.Attempt + 1;
                    firstStart = rec.StartedAt ?? Now;
                    isNew = false;
                    if (StepAttempts.Refusal(stepOptions, attempt, interrupted: true, deadline: null, Now) is { } interruptedTooOften)
                    {
                        return FailFinal<T>(rec, seq, name, interruptedTooOften.Kind, interruptedTooOften.Message);
                    }

                    break;
                case StepStatus.Retrying:
                    ThrowIfCancelled();
                    if (rec.AvailableAt is { } due && Now < due)
                    {
                        return await SuspendAsync<T>(due, "retry back-off", seq, name).ConfigureAwait(false);
                    }

                    attempt = rec.Attempt + 1;
                    firstStart = rec.StartedAt ?? Now;
                    isNew = false;
                    break;
                default:
                    return await AbortAsync<T>(new InvalidOperationException($"Step '{name}' at position {seq} is recorded as {rec.Status}, which an inline step cannot be.")).ConfigureAwait(false);
            }
        }
        else
        {
            ThrowIfCancelled();
            attempt = 1;
            firstStart = Now;
            isNew = true;
        }

        JsonNode? progress = null;
        if (!isNew)
        {
            try
            {
                progress = await StepProgress.LoadAsync(store, Run.RunId, seq, CancellationToken.None).ConfigureAwait(false);
            }
            catch (WorkflowStoreException ex)
            {
                return await AbortAsync<T>(ex).ConfigureAwait(false);
            }
        }

        return await RunAttemptAsync(seq, name, body, input, stepOptions, attempt, firstStart, isNew, activity, progress).ConfigureAwait(false);
    }

    public async Task DelayAsync(TimeSpan duration, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Enter();
        var seq = ++sequence;
        if (recorded.TryGetValue(seq, out var rec))
        {
            if (Mismatch(rec, StepKind.Timer, name) is { } nd)
            {
                await AbortAsync<bool>(nd).ConfigureAwait(false);
                return;
            }

            if (rec.Status == StepStatus.Completed)
            {
                Advance(rec.CompletedAt);
                Exit();
                return;
            }

            var now = Now;
            if (rec.AvailableAt is { } due && now >= due)
            {
                pendingSteps.Add(new(rec with { Status = StepStatus.Completed, CompletedAt = now }, false));
                pendingEvents.Add(new(now, actor, TimelineKinds.TimerFired, TimelineData.Of(("seq", seq), ("step", name), ("due", due))));
                Advance(now);
                Exit();
                return;
            }

            ThrowIfCancelled();
            await SuspendAsync<bool>(rec.AvailableAt, "timer", seq, name).ConfigureAwait(false);
            return;
        }

        ThrowIfCancelled();
        var start = Now;
        var until = start + (duration > TimeSpan.Zero ? duration : TimeSpan.Zero);
        var row = NewRow(seq, name, StepKind.Timer, StepStatus.Waiting) with { AvailableAt = until, StartedAt = start };
        pendingSteps.Add(new(row, true));
        pendingEvents.Add(new(start, actor, TimelineKinds.TimerStarted, TimelineData.Of(("seq", seq), ("step", name), ("until", until))));
        if (duration <= TimeSpan.Zero)
        {
            pendingSteps.Add(new(row with { Status = StepStatus.Completed, CompletedAt = start }, false));
            pendingEvents.Add(new(start, actor, TimelineKinds.TimerFired, TimelineData.Of(("seq", seq), ("step", name), ("due", until))));
            Advance(start);
            Exit();
            return;
        }

        await SuspendAsync<bool>(until, "timer", seq, name).ConfigureAwait(false);
    }

    public async Task<ReceivedSignal?> WaitForSignalAsync(string signalName, TimeSpan? timeout, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(signalName);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (timeout is { } t && t < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), "A signal wait timeout must not be negative.");
        }

        Enter();
        var seq = ++sequence;
        StepRecord row;
        bool isNew;
        if (recorded.TryGetValue(seq, out var rec))
        {
            if (Mismatch(rec, StepKind.Signal, name) is { } nd)
            {
                return await AbortAsync<ReceivedSignal?>(nd).ConfigureAwait(false);
            }

            if (rec.Status == StepStatus.Completed)
            {
                Advance(rec.CompletedAt);
                Exit();
                return Deserialize<ReceivedSignal?>(rec.Output);
            }

            row = rec;
            isNew = false;
        }
        else
        {
            ThrowIfCancelled();
            var start = Now;
            DateTimeOffset? deadline = timeout is { } tt ? start + tt : null;
            row = NewRow(seq, name, StepKind.Signal, StepStatus.Waiting) with
            {
                Input = TimelineData.Of(("signal", signalName)),
                AvailableAt = deadline,
                StartedAt = start,
            };
            isNew = true;
            pendingEvents.Add(new(start, actor, TimelineKinds.WaitStarted, TimelineData.Of(("seq", seq), ("step", name), ("signal", signalName), ("until", deadline))));
        }

        var now = Now;
        var match = pendingSignals.Find(s => string.Equals(s.Name, signalName, StringComparison.Ordinal));
        if (match is not null)
        {
            pendingSignals.Remove(match);
            pendingConsumed.Add((match.Id, seq));
            var received = new ReceivedSignal(match.Name, WorkflowJson.Parse(match.Payload), match.Sender, match.ReceivedAt);
            var output = JsonSerializer.Serialize(received, WorkflowJson.Options);
            if (isNew)
            {
                pendingSteps.Add(new(row, true));
            }

            pendingSteps.Add(new(row with { Status = StepStatus.Completed, Output = output, CompletedAt = now }, false));
            pendingEvents.Add(new(now, actor, TimelineKinds.SignalConsumed, TimelineData.Of(("seq", seq), ("step", name), ("signal", match.Name), ("sender", match.Sender), ("signal_id", match.Id))));
            Advance(now);
            Exit();
            return Deserialize<ReceivedSignal?>(output);
        }

        if (row.AvailableAt is { } due && now >= due)
        {
            if (isNew)
            {
                pendingSteps.Add(new(row, true));
            }

            pendingSteps.Add(new(row with { Status = StepStatus.Completed, Output = null, CompletedAt = now }, false));
            pendingEvents.Add(new(now, actor, TimelineKinds.WaitTimedOut, TimelineData.Of(("seq", seq), ("step", name), ("signal", signalName), ("deadline", due))));
            Advance(now);
            Exit();
            return null;
        }

        if (!isNew)
        {
            ThrowIfCancelled();
        }
        else
        {
            pendingSteps.Add(new(row, true));
        }

        return await SuspendAsync<ReceivedSignal?>(row.AvailableAt, "signal " + signalName, seq, name).ConfigureAwait(false);
    }

    public async Task RecordAsync(string name, string kind, string? data)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        if (TimelineKinds.IsKernelKind(kind) || !kind.Contains('.', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{kind}' cannot be recorded by workflow code: use a dotted kind of your own (e.g. approval.granted); the kernel's kinds are reserved.", nameof(kind));
        }

        Enter();
        var seq = ++sequence;
        if (recorded.TryGetValue(seq, out var rec))
        {
            if (Mismatch(rec, StepKind.Inline, name) is { } nd)
            {
                await AbortAsync<bool>(nd).ConfigureAwait(false);
                return;
            }

            Advance(rec.CompletedAt);
            Exit();
            return;
        }

        ThrowIfCancelled();
        var now = Now;
        pendingSteps.Add(new(NewRow(seq, name, StepKind.Inline, StepStatus.Completed) with { Output = data, StartedAt = now, CompletedAt = now }, true));
        pendingEvents.Add(new(now, actor, kind, data));
        Advance(now);
        Exit();
    }

    public async Task<JsonNode?> ActivityAsync(string name, string activity, string queue, JsonNode? input, StepOptions? stepOptions)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(activity);
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        stepOptions ??= StepOptions.Default;
        stepOptions.Validate();
        Enter();
        var seq = ++sequence;
        if (recorded.TryGetValue(seq, out var rec))
        {
            if (Mismatch(rec, StepKind.Activity, name) is { } nd)
            {
                return await AbortAsync<JsonNode?>(nd).ConfigureAwait(false);
            }

            switch (rec.Status)
            {
                case StepStatus.Completed:
                    Advance(rec.CompletedAt);
                    Exit();
                    return WorkflowJson.Parse(rec.Output);
                case StepStatus.Failed:
                    Advance(rec.CompletedAt);
                    Exit();
                    throw FailedFrom(rec);
                default:
                    ThrowIfCancelled();
                    return await SuspendAsync<JsonNode?>(null, $"activity '{activity}' on queue '{rec.Queue}'", seq, name).ConfigureAwait(false);
            }
        }

        ThrowIfCancelled();
        var now = Now;
        var row = NewRow(seq, name, StepKind.Activity, StepStatus.Queued) with
        {
            Attempt = 0,
            Queue = queue,
            Activity = activity,
            Input = input?.ToJsonString(WorkflowJson.Options),
            Options = JsonSerializer.Serialize(stepOptions, WorkflowJson.Options),
            AvailableAt = now,
        };
        pendingSteps.Add(new(row, true));
        pendingEvents.Add(new(now, actor, TimelineKinds.StepScheduled, TimelineData.Of(("seq", seq), ("step", name), ("activity", activity), ("queue", queue))));
        return await SuspendAsync<JsonNode?>(null, $"activity '{activity}' on queue '{queue}'", seq, name).ConfigureAwait(false);
    }

    private static int SeedOf(string runId) => BitConverter.ToInt32(SHA256.HashData(Encoding.UTF8.GetBytes(runId)), 0);

    private static T Deserialize<T>(string? json) => json is null ? default! : JsonSerializer.Deserialize<T>(json, WorkflowJson.Options)!;

    private static StepFailedException FailedFrom(StepRecord rec) =>
        new(rec.Name, rec.Sequence, rec.ErrorKind ?? "Unknown", rec.ErrorMessage ?? string.Empty, rec.Attempt);

    private static StepRecord NewRow(int seq, string name, StepKind kind, StepStatus status) =>
        new(seq, name, kind, status, 1, null, null, null, null, null, null, null, null, null, null, null, null);

    private static NonDeterminismException? Mismatch(StepRecord rec, StepKind kind, string name)
    {
        if (!string.Equals(rec.Name, name, StringComparison.Ordinal) || rec.Kind != kind)
        {
            return new NonDeterminismException(rec.Sequence, Describe(rec.Kind, rec.Name), Describe(kind, name));
        }

        return null;

        static string Describe(StepKind k, string n) => k == StepKind.Inline ? n : $"{n} ({k.ToString().ToLowerInvariant()})";
    }

    private async Task<T> RunAttemptAsync<T>(int seq, string name, Func<IStepContext, Task<T>> body, JsonNode? input, StepOptions stepOptions, int attempt, DateTimeOffset firstStart, bool isNew, string? activity, JsonNode? progress)
    {
        var now = Now;
        var deadline = StepAttempts.Deadline(stepOptions, firstStart);

        // An inline activity keeps what it was called with, as a queued one does: the run's record of what it did
        // (`runbook status`, `runbook drill record`) shows every call, wherever it ran.
        var running = NewRow(seq, name, StepKind.Inline, StepStatus.Running) with { Attempt = attempt, StartedAt = firstStart, Activity = activity, Input = activity is null ? null : input?.ToJsonString(WorkflowJson.Options) };
        if (StepAttempts.Refusal(stepOptions, attempt, interrupted: false, deadline, now) is { } refused)
        {
            if (isNew)
            {
                pendingSteps.Add(new(running, true));
            }

            return FailFinal<T>(running, seq, name, refused.Kind, refused.Message);
        }

        pendingSteps.Add(new(running, isNew));
        pendingEvents.Add(new(now, actor, TimelineKinds.StepStarted, TimelineData.Of(("seq", seq), ("step", name), ("attempt", attempt))));
        try
        {
            await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (WorkflowStoreException ex)
        {
            return await AbortAsync<T>(ex).ConfigureAwait(false);
        }

        var outcome = await StepAttempts.RunAsync(
            body,
            token => new StepContext(Run.RunId, name, seq, attempt, input, logger, token, progress, SaveProgressAsync),
            stepOptions,
            attempt,
            deadline,
            time,
            CancellationToken,
            abandoned).ConfigureAwait(false);
        var end = Now;
        switch (outcome.End)
        {
            case AttemptEnd.Abandoned:
                return await AbortAsync<T>(new ExecutionAbortedException("The worker is shutting down; the step attempt was abandoned and will be retried.")).ConfigureAwait(false);
            case AttemptEnd.Cancelled:
                pendingSteps.Add(new(running with { Status = StepStatus.Failed, ErrorKind = outcome.Kind, ErrorMessage = outcome.Message, CompletedAt = end }, false));
                pendingEvents.Add(new(end, actor, TimelineKinds.StepFailed, TimelineData.Of(("seq", seq), ("step", name), ("attempt", attempt), ("error_kind", outcome.Kind), ("final", true))));
                Exit();
                throw new OperationCanceledException(runCancelled);
            case AttemptEnd.Completed:
                var json = JsonSerializer.Serialize(outcome.Value, WorkflowJson.Options);
                pendingSteps.Add(new(running with { Status = StepStatus.Completed, Output = json, CompletedAt = end }, false));
                pendingEvents.Add(new(end, actor, TimelineKinds.StepCompleted, TimelineData.Of(("seq", seq), ("step", name), ("attempt", attempt), ("duration_ms", Math.Round(outcome.Elapsed.TotalMilliseconds, 3)))));
                Advance(end);
                Exit();

                // Hand back what a replay would return, so live and replayed runs see the same value.
                return Deserialize<T>(json);
        }

        var (kind, message) = (outcome.Kind!, outcome.Message!);
        if (StepAttempts.RetryAt(stepOptions, attempt, kind, outcome.NonRetryable, end, deadline) is { } next)
        {
            pendingSteps.Add(new(running with { Status = StepStatus.Retrying, ErrorKind = kind, ErrorMessage = message, AvailableAt = next }, false));
            pendingEvents.Add(new(end, actor, TimelineKinds.StepFailed, TimelineData.Of(("seq", seq), ("step", name), ("attempt", attempt), ("error_kind", kind), ("error", message), ("retry_at", next))));
            return await SuspendAsync<T>(next, "retry back-off", seq, name).ConfigureAwait(false);
        }

        return FailFinal<T>(running, seq, name, kind, message);

        // Committed at once and on its own, under the run's lease: the step's row stays as it is (running).
        Task SaveProgressAsync(JsonNode saved) => store.CommitAsync(
            new RunCommit(Run.RunId, options.WorkerId, Now, null, [], [], null, false, [StepProgress.Event(Now, actor, seq, name, attempt, saved)]),
            CancellationToken.None);
    }

    private T FailFinal<T>(StepRecord row, int seq, string name, string kind, string message)
    {
        var at = Now;
        pendingSteps.Add(new(row with { Status = StepStatus.Failed, ErrorKind = kind, ErrorMessage = message, CompletedAt = at }, false));
        pendingEvents.Add(new(at, actor, TimelineKinds.StepFailed, TimelineData.Of(("seq", seq), ("step", name), ("attempt", row.Attempt), ("error_kind", kind), ("error", message), ("final", true))));
        Advance(at);
        Exit();
        throw new StepFailedException(name, seq, kind, message, row.Attempt);
    }

    private Task<T> SuspendAsync<T>(DateTimeOffset? wakeAt, string reason, int seq, string name)
    {
        suspension = new RunTransition(RunStatus.Waiting, AvailableAt: wakeAt, SeenWakeCount: Run.WakeCount);
        pendingEvents.Add(new(Now, actor, TimelineKinds.RunWaiting, TimelineData.Of(("reason", reason), ("seq", seq), ("step", name), ("until", wakeAt))));
        stopped.TrySetResult();
        return new TaskCompletionSource<T>().Task;
    }

    private Task<T> AbortAsync<T>(Exception reason)
    {
        abortReason ??= reason;
        stopped.TrySetResult();
        return new TaskCompletionSource<T>().Task;
    }

    private async Task HandleAbortAsync(Exception reason, CancellationToken cancellationToken)
    {
        switch (reason)
        {
            case NonDeterminismException nd:
                logger.LogError("Run {RunId} failed: {Message}", Run.RunId, nd.Message);
                pendingEvents.Add(new(Now, actor, TimelineKinds.RunFailed, TimelineData.Of(("error_kind", "NonDeterminism"), ("error", nd.Message), ("seq", nd.Sequence), ("recorded", nd.RecordedName), ("requested", nd.RequestedName))));
                await CommitOutcomeAsync(new RunTransition(RunStatus.Failed, ErrorKind: "NonDeterminism", ErrorMessage: nd.Message), cancellationToken).ConfigureAwait(false);
                break;
            case LeaseLostException lost:
                await RecordFencedAsync(lost, cancellationToken).ConfigureAwait(false);
                break;
            case ExecutionAbortedException:
                logger.LogInformation("Run {RunId} abandoned: {Reason}", Run.RunId, reason.Message);
                break;
            case InvalidOperationException bad:
                pendingEvents.Add(new(Now, actor, TimelineKinds.RunFailed, TimelineData.Of(("error_kind", "CorruptHistory"), ("error", bad.Message))));
                await CommitOutcomeAsync(new RunTransition(RunStatus.Failed, ErrorKind: "CorruptHistory", ErrorMessage: bad.Message), cancellationToken).ConfigureAwait(false);
                break;
            default:
                // A store failure: nothing more is written; the lease expires and the run is recovered.
                logger.LogError(reason, "Run {RunId} stopped on a store error; it will be recovered when its lease expires.", Run.RunId);
                break;
        }
    }

    private async Task RecordFencedAsync(LeaseLostException lost, CancellationToken cancellationToken)
    {
        logger.LogWarning("Run {RunId}: write rejected by fencing: {Message}", Run.RunId, lost.Message);
        try
        {
            await store.AppendTimelineAsync(
                Run.RunId,
                new NewTimelineEvent(Now, actor, TimelineKinds.LeaseFenced, TimelineData.Of(("error", lost.Message), ("rejected_events", pendingEvents.Count), ("rejected_steps", pendingSteps.Count))),
                cancellationToken).ConfigureAwait(false);
        }
        catch (WorkflowStoreException ex)
        {
            logger.LogError(ex, "Could not record the fencing rejection of run {RunId}.", Run.RunId);
        }
    }

    private async Task CommitOutcomeAsync(RunTransition transition, CancellationToken cancellationToken)
    {
        try
        {
            await CommitAsync(transition, extendLease: false, cancellationToken).ConfigureAwait(false);
        }
        catch (LeaseLostException lost)
        {
            await RecordFencedAsync(lost, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task FlushAsync(CancellationToken cancellationToken) => CommitAsync(null, extendLease: true, cancellationToken);

    private async Task CommitAsync(RunTransition? transition, bool extendLease, CancellationToken cancellationToken)
    {
        var now = Now;
        var commit = new RunCommit(
            Run.RunId,
            options.WorkerId,
            now,
            null,
            [.. pendingSteps],
            [.. pendingConsumed],
            transition,
            false,
            [.. pendingEvents],
            extendLease ? now + options.LeaseDuration : null);
        var started = time.GetTimestamp();
        await store.CommitAsync(commit, cancellationToken).ConfigureAwait(false);
        Telemetry.CommitDuration.Record(time.GetElapsedTime(started).TotalSeconds);
        Telemetry.Events(Span, commit.Events);
        pendingSteps.Clear();
        pendingConsumed.Clear();
        pendingEvents.Clear();
        options.AfterCommit?.Invoke(Run.RunId, commit.Steps.Select(s => s.Step).ToList());
    }

    private void Finished(string status)
    {
        Telemetry.RunsFinished.Add(1, new KeyValuePair<string, object?>("runbook.workflow", Run.WorkflowName), new KeyValuePair<string, object?>("status", status));
        Span?.SetTag("runbook.run.status", status);
    }

    private void Advance(DateTimeOffset? to)
    {
        if (to is { } t && t > workflowTime)
        {
            workflowTime = t;
        }
    }

    private void ThrowIfCancelled()
    {
        if (shielded == 0 && runCancelled.IsCancellationRequested)
        {
            Exit();
            throw new OperationCanceledException("The run was cancelled.", runCancelled);
        }
    }

    private void Enter()
    {
        if (operationInFlight)
        {
            throw new InvalidOperationException("Workflow operations must be awaited one at a time (run " + Run.RunId + "): start the next step only after the previous one finished, so that replay sees the same order.");
        }

        operationInFlight = true;
    }

    private void Exit() => operationInFlight = false;
}
