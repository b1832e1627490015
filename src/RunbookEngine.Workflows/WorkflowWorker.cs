using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RunbookEngine.Workflows.Execution;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Workflows;

/// <summary>
/// Claims ready runs and queued activities from the store under leases, executes them, renews the leases by
/// heartbeat, and on shutdown drains in-flight work up to a deadline before giving the rest back.
/// </summary>
public sealed class WorkflowWorker : IAsyncDisposable
{
    private readonly IWorkflowStore store;
    private readonly IWorkflowResolver resolver;
    private readonly ActivityRegistry? activities;
    private readonly WorkerOptions options;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<string, InFlight> runs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string RunId, int Sequence), InFlight> activitySteps = new();
    private readonly ConcurrentDictionary<string, WorkflowDefinition> definitions = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource abandonAll = new();
    private readonly SemaphoreSlim wake = new(0, 1);
    private readonly string actor;
    private volatile bool killed;
    private volatile bool storeClosed;

    /// <summary>Initializes a new instance of the <see cref="WorkflowWorker"/> class.</summary>
    /// <param name="store">The store.</param>
    /// <param name="resolver">Turns pinned definitions into workflow code.</param>
    /// <param name="options">Options; see <see cref="WorkerOptions"/> for defaults.</param>
    /// <param name="activities">The activities this worker executes for its queues; null to execute none.</param>
    /// <param name="timeProvider">The clock. Default <see cref="TimeProvider.System"/>.</param>
    /// <param name="loggerFactory">Logging.</param>
    public WorkflowWorker(
        IWorkflowStore store,
        IWorkflowResolver resolver,
        WorkerOptions? options = null,
        ActivityRegistry? activities = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(resolver);
        this.store = store;
        this.resolver = resolver;
        this.activities = activities;
        this.options = options ?? new WorkerOptions();
        this.options.Validate();
        time = timeProvider ?? TimeProvider.System;
        logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<WorkflowWorker>();
        actor = "worker:" + this.options.WorkerId;
    }

    /// <summary>Gets the worker's id.</summary>
    public string WorkerId => options.WorkerId;

    /// <summary>Gets the number of runs and activities being executed now.</summary>
    public int InFlightCount => runs.Count + activitySteps.Count;

    /// <summary>Wakes an idle worker to poll now (e.g. a run was just started in this process).</summary>
    public void Notify()
    {
        if (wake.CurrentCount == 0)
        {
            try
            {
                wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Someone else woke it first; one wake-up is enough.
            }
            catch (ObjectDisposedException)
            {
                // A late notification for a worker that has stopped.
            }
        }
    }

    /// <summary>
    /// Executes everything that is claimable now, and what that makes claimable, until nothing is left;
    /// runs waiting on timers or signals stay suspended. For tools and tests that drive the worker themselves.
    /// </summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>How many runs and activities were executed.</returns>
    public async Task<int> RunUntilIdleAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var started = await ClaimAndStartAsync(cancellationToken).ConfigureAwait(false);
            if (started.Count == 0 && InFlightCount == 0)
            {
                return total;
            }

            total += started.Count;
            var pending = runs.Values.Select(r => r.Task!).Concat(activitySteps.Values.Select(a => a.Task!)).ToList();
            if (pending.Count > 0)
            {
                // Whichever finishes first may have made more work claimable (a woken run, a queued activity).
                await Task.WhenAny(pending).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs until <paramref name="stoppingToken"/> is cancelled, then drains gracefully.</summary>
    /// <param name="stoppingToken">Signals shutdown.</param>
    /// <returns>A task that completes when the worker has stopped and released what it held.</returns>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        using var heartbeatStop = new CancellationTokenSource();
        using var wakeups = (store as IWorkAvailableSource)?.SubscribeWorkAvailable(queue =>
        {
            if (queue is null || options.Queues.Contains(queue, StringComparer.Ordinal))
            {
                Notify();
            }
        });
        var heartbeat = HeartbeatLoopAsync(heartbeatStop.Token);
        logger.LogInformation("Worker {WorkerId} serving queues {Queues}", WorkerId, string.Join(",", options.Queues));
        try
        {
            while (!stoppingToken.IsCancellationRequested && !killed && !storeClosed)
            {
                var claimed = 0;
                try
                {
                    claimed = (await ClaimAndStartAsync(stoppingToken).ConfigureAwait(false)).Count;
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (WorkflowStoreException ex)
                {
                    logger.LogError(ex, "Worker {WorkerId} could not claim work: {Message}", WorkerId, ex.Message);
                }

                if (claimed == 0)
                {
                    await WaitForWorkAsync(stoppingToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            await DrainAsync().ConfigureAwait(false);
            await heartbeatStop.CancelAsync().ConfigureAwait(false);
            try
            {
                await heartbeat.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The heartbeat loop ends by cancellation.
            }
        }
    }

    /// <summary>Renews the leases of in-flight work once; cancels runs whose cancellation was requested and abandons work whose lease was lost.</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    public async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        if (killed)
        {
            return;
        }

        var runIds = runs.Keys.ToList();
        var steps = activitySteps.Keys.ToList();
        if (runIds.Count == 0 && steps.Count == 0)
        {
            return;
        }

        var renewal = await store.RenewLeasesAsync(WorkerId, runIds, steps, time.GetUtcNow() + options.LeaseDuration, cancellationToken).ConfigureAwait(false);
        // An entry found here may end (and be disposed) before it is cancelled: InFlight's Try* methods allow that.
        foreach (var id in renewal.CancelRequestedRuns)
        {
            if (runs.TryGetValue(id, out var r))
            {
                await r.TryCancelAsync().ConfigureAwait(false);
            }
        }

        foreach (var id in renewal.LostRuns)
        {
            if (runs.TryGetValue(id, out var r))
            {
                logger.LogWarning("Worker {WorkerId} lost the lease of run {RunId}; abandoning it.", WorkerId, id);
                await r.TryAbandonAsync().ConfigureAwait(false);
            }
        }

        foreach (var key in renewal.LostActivities)
        {
            if (activitySteps.TryGetValue(key, out var a))
            {
                await a.TryAbandonAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Stops at once, the way a process killed with SIGKILL stops: everything in flight is abandoned with nothing more
    /// committed and its leases kept (they expire, and another worker recovers the work as after a crash), and nothing
    /// more is claimed. Game-day drills use it to replay a worker's death without killing a process.
    /// </summary>
    /// <returns>A task that completes when every in-flight execution has been told to stop.</returns>
    public Task KillAsync()
    {
        killed = true;
        return abandonAll.CancelAsync();
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await abandonAll.CancelAsync().ConfigureAwait(false);
        abandonAll.Dispose();
        wake.Dispose();
    }

    private async Task WaitForWorkAsync(CancellationToken stoppingToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var delay = Task.Delay(options.PollInterval, time, cts.Token);
        var woken = wake.WaitAsync(cts.Token);
        await Task.WhenAny(delay, woken).ConfigureAwait(false);
        await cts.CancelAsync().ConfigureAwait(false);
    }

    private async Task DrainAsync()
    {
        if (killed)
        {
            return; // a killed worker gives nothing back: its leases expire
        }

        var pending = runs.Values.Select(r => r.Task!).Concat(activitySteps.Values.Select(a => a.Task!)).ToList();
        if (pending.Count > 0)
        {
            logger.LogInformation("Worker {WorkerId} draining {Count} in-flight item(s) for up to {Timeout}", WorkerId, pending.Count, options.ShutdownTimeout);
            var all = Task.WhenAll(pending);
            using var timeout = new CancellationTokenSource();
            var finished = await Task.WhenAny(all, Task.Delay(options.ShutdownTimeout, time, timeout.Token)).ConfigureAwait(false);
            await timeout.CancelAsync().ConfigureAwait(false);
            if (finished != all)
            {
                // Abandon what is left: steps see their token cancelled, nothing more is committed for them,
                // and their leases are released so another worker resumes them at once.
                // Snapshot first: abandoned executions remove themselves as they unwind.
                var leftRuns = runs.Keys.ToList();
                var leftSteps = activitySteps.Keys.ToList();
                await abandonAll.CancelAsync().ConfigureAwait(false);
                try
                {
                    await store.ReleaseLeasesAsync(WorkerId, leftRuns, leftSteps, time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
                    logger.LogWarning("Worker {WorkerId} released {Runs} run(s) and {Steps} activity step(s) still in flight at shutdown.", WorkerId, leftRuns.Count, leftSteps.Count);
                }
                catch (Exception ex) when (ex is WorkflowStoreException or ObjectDisposedException)
                {
                    logger.LogError(ex, "Worker {WorkerId} could not release its leases; they will expire.", WorkerId);
                }
            }
        }
    }

    private async Task HeartbeatLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.EffectiveHeartbeatInterval, time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await HeartbeatAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (WorkflowStoreException ex)
            {
                logger.LogError(ex, "Worker {WorkerId} heartbeat failed: {Message}", WorkerId, ex.Message);
            }
            catch (ObjectDisposedException)
            {
                // The store was closed under the worker: its leases run out and the work is recovered elsewhere.
                storeClosed = true;
                return;
            }
        }
    }

    private async Task<IReadOnlyList<Task>> ClaimAndStartAsync(CancellationToken cancellationToken)
    {
        var started = new List<Task>();
        if (killed || storeClosed)
        {
            return started;
        }

        // A claim, once sent, is never given up half-way by a shutdown: a claim committed but not returned would hold
        // its work for a lease. Shutdown stops the loop between claims instead.
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            await ClaimIntoAsync(started).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // The store was closed under the worker (it should be stopped first). What the store committed is
            // running here or held by its lease until that expires; nothing more is claimed.
            if (!storeClosed)
            {
                storeClosed = true;
                logger.LogWarning("Worker {WorkerId}: the store was closed while the worker was running; it claims nothing more, and what it holds is recovered when its leases expire.", WorkerId);
            }
        }

        return started;
    }

    private async Task ClaimIntoAsync(List<Task> started)
    {
        var freeRuns = options.MaxConcurrentRuns - runs.Count;
        if (freeRuns > 0)
        {
            var claimed = await store.ClaimRunsAsync(new ClaimRequest(WorkerId, options.Queues, freeRuns, time.GetUtcNow(), options.LeaseDuration), CancellationToken.None).ConfigureAwait(false);
            foreach (var c in claimed)
            {
                if (runs.ContainsKey(c.Run.RunId))
                {
                    // Its lease ran out while this worker still executes it (a heartbeat too late), and the claim
                    // has just leased it to this worker again: the execution in flight goes on under that lease.
                    // A second one would run its current step's code again in the same process.
                    logger.LogWarning("Worker {WorkerId} claimed run {RunId} again after its lease ran out while still executing it; the execution in flight continues under the new lease.", WorkerId, c.Run.RunId);
                    continue;
                }

                var entry = new InFlight(abandonAll.Token);
                if (c.Run.CancelRequested)
                {
                    await entry.Cancel.CancelAsync().ConfigureAwait(false);
                }

                runs[c.Run.RunId] = entry;
                entry.Task = Task.Run(() => ExecuteRunAsync(c, entry), CancellationToken.None);
                started.Add(entry.Task);
            }
        }

        var freeActivities = options.MaxConcurrentActivities - activitySteps.Count;
        if (activities is not null && freeActivities > 0)
        {
            var claimed = await store.ClaimActivitiesAsync(new ClaimRequest(WorkerId, options.Queues, freeActivities, time.GetUtcNow(), options.LeaseDuration), CancellationToken.None).ConfigureAwait(false);
            foreach (var c in claimed)
            {
                var entry = new InFlight(abandonAll.Token);
                activitySteps[(c.RunId, c.Step.Sequence)] = entry;
                entry.Task = Task.Run(() => ExecuteActivityAsync(c, entry), CancellationToken.None);
                started.Add(entry.Task);
            }
        }
    }

    private async Task ExecuteRunAsync(ClaimedRun claimed, InFlight entry)
    {
        var runId = claimed.Run.RunId;
        try
        {
            var history = claimed.History ?? await store.LoadHistoryAsync(runId, CancellationToken.None).ConfigureAwait(false);
            using var span = Telemetry.StartRun(history.Run);
            span?.SetTag("runbook.worker", WorkerId);
            var execution = new RunExecution(store, activities, time, options, logger, history, entry.Cancel.Token, entry.Abandon.Token) { Span = span };
            var definition = await GetDefinitionAsync(history.Run.DefinitionHash).ConfigureAwait(false);
            if (definition is null)
            {
                await execution.FailAsync("DefinitionMissing", $"The store has no definition with hash {history.Run.DefinitionHash} for workflow '{history.Run.WorkflowName}'.", CancellationToken.None).ConfigureAwait(false);
                return;
            }

            WorkflowFunction? function;
            try
            {
                function = await resolver.ResolveAsync(definition, CancellationToken.None).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A definition that no longer compiles fails its run with the reason; it must not kill the worker.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                await execution.FailAsync("DefinitionInvalid", $"The pinned definition of workflow '{definition.Name}' ({definition.Hash[..12]}) could not be loaded: {ex.Message}", CancellationToken.None).ConfigureAwait(false);
                return;
            }

            if (function is null)
            {
                await execution.FailAsync("DefinitionUnavailable", $"Worker {WorkerId} cannot execute workflow '{definition.Name}' at definition {definition.Hash[..12]}: no resolver of this worker knows it (was the workflow's version label changed while this run was in flight?).", CancellationToken.None).ConfigureAwait(false);
                return;
            }

            await execution.ExecuteAsync(function, new KernelWorkflowContext(execution), CancellationToken.None).ConfigureAwait(false);
        }
        catch (LeaseLostException ex)
        {
            logger.LogWarning("Run {RunId}: {Message}", runId, ex.Message);
        }
        catch (WorkflowStoreException ex)
        {
            logger.LogError(ex, "Run {RunId} stopped on a store error; it will be recovered when its lease expires: {Message}", runId, ex.Message);
        }
#pragma warning disable CA1031 // A defect in one execution must not take the worker down; the run is recovered after its lease.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            logger.LogCritical(ex, "Run {RunId}: unexpected engine error; it will be recovered when its lease expires.", runId);
        }
        finally
        {
            runs.TryRemove(KeyValuePair.Create(runId, entry));
            entry.Dispose();
            Notify();
        }
    }

    private async Task ExecuteActivityAsync(ClaimedActivity claimed, InFlight entry)
    {
        var step = claimed.Step;
        var key = (claimed.RunId, step.Sequence);
        try
        {
            await ExecuteActivityCoreAsync(claimed, entry).ConfigureAwait(false);
        }
        catch (LeaseLostException ex)
        {
            logger.LogWarning("Activity {RunId}/{Sequence}: {Message}", claimed.RunId, step.Sequence, ex.Message);
            await TryAppendAsync(claimed.RunId, new NewTimelineEvent(time.GetUtcNow(), actor, TimelineKinds.LeaseFenced, TimelineData.Of(("seq", step.Sequence), ("step", step.Name), ("attempt", step.Attempt), ("error", ex.Message)))).ConfigureAwait(false);
        }
        catch (WorkflowStoreException ex)
        {
            logger.LogError(ex, "Activity {RunId}/{Sequence} stopped on a store error; it will be retried when its lease expires.", claimed.RunId, step.Sequence);
        }
#pragma warning disable CA1031 // As for runs: recovered after the lease.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            logger.LogCritical(ex, "Activity {RunId}/{Sequence}: unexpected engine error; it will be retried when its lease expires.", claimed.RunId, step.Sequence);
        }
        finally
        {
            activitySteps.TryRemove(key, out _);
            entry.Dispose();
            Notify();
        }
    }

    private async Task ExecuteActivityCoreAsync(ClaimedActivity claimed, InFlight entry)
    {
        var step = claimed.Step;
        var stepOptions = (step.Options is null ? null : JsonSerializer.Deserialize<StepOptions>(step.Options, WorkflowJson.Options)) ?? StepOptions.Default;
        var commitEvents = new List<NewTimelineEvent>();
        var deadline = StepAttempts.Deadline(stepOptions, step.StartedAt);

        string? output = null;
        string? kind = null;
        string? message = null;
        var nonRetryable = false;
        if (!activities!.TryGet(step.Activity!, out var body))
        {
            (kind, message, nonRetryable) = ("UnknownActivity", $"No worker of queue '{step.Queue}' knows activity '{step.Activity}' (worker {WorkerId} serves it without registering it).", true);
        }
        else if (StepAttempts.Refusal(stepOptions, step.Attempt, claimed.PreviousOwner is not null, deadline, time.GetUtcNow()) is { } refused)
        {
            (kind, message, nonRetryable) = (refused.Kind, refused.Message, true);
        }
        else
        {
            // A step on a queue runs apart from its run's execution: its span joins the run's trace through the stored run.
            using var span = Telemetry.Source.HasListeners() && await store.GetRunAsync(claimed.RunId, CancellationToken.None).ConfigureAwait(false) is { } run ? Telemetry.StartRun(run, "activity " + step.Activity) : null;
            var progress = step.Attempt > 1 ? await StepProgress.LoadAsync(store, claimed.RunId, step.Sequence, CancellationToken.None).ConfigureAwait(false) : null;

            // Committed at once under this attempt's lease of the step (a worker that lost it cannot record progress).
            Task SaveProgressAsync(JsonNode saved)
            {
                var at = time.GetUtcNow();
                return store.CommitAsync(new RunCommit(claimed.RunId, WorkerId, at, (step.Sequence, step.Attempt), [], [], null, false, [StepProgress.Event(at, actor, step.Sequence, step.Name, step.Attempt, saved)]), CancellationToken.None);
            }

            var outcome = await StepAttempts.RunAsync(
                body,
                token => new StepContext(claimed.RunId, step.Name, step.Sequence, step.Attempt, WorkflowJson.Parse(step.Input), logger, token, progress, SaveProgressAsync),
                stepOptions,
                step.Attempt,
                deadline,
                time,
                CancellationToken.None,
                entry.Abandon.Token).ConfigureAwait(false);
            if (outcome.End == AttemptEnd.Abandoned)
            {
                logger.LogInformation("Activity {RunId}/{Sequence} abandoned at shutdown or after losing its lease.", claimed.RunId, step.Sequence);
                return;
            }

            (output, kind, message, nonRetryable) = (outcome.Value?.ToJsonString(WorkflowJson.Options), outcome.Kind, outcome.Message, outcome.NonRetryable);
        }

        var end = time.GetUtcNow();
        StepRecord next;
        var wakeRun = true;
        if (kind is null)
        {
            next = step with { Status = StepStatus.Completed, Output = output, CompletedAt = end, LeaseOwner = null, LeaseExpiresAt = null };
            commitEvents.Add(new(end, actor, TimelineKinds.StepCompleted, TimelineData.Of(("seq", step.Sequence), ("step", step.Name), ("attempt", step.Attempt), ("activity", step.Activity))));
        }
        else if (StepAttempts.RetryAt(stepOptions, step.Attempt, kind, nonRetryable, end, deadline) is { } retryAt)
        {
            next = step with { Status = StepStatus.Queued, ErrorKind = kind, ErrorMessage = message, AvailableAt = retryAt, LeaseOwner = null, LeaseExpiresAt = null };
            commitEvents.Add(new(end, actor, TimelineKinds.StepFailed, TimelineData.Of(("seq", step.Sequence), ("step", step.Name), ("attempt", step.Attempt), ("error_kind", kind), ("error", message), ("retry_at", retryAt))));
            wakeRun = false;
        }
        else
        {
            next = step with { Status = StepStatus.Failed, ErrorKind = kind, ErrorMessage = message, CompletedAt = end, LeaseOwner = null, LeaseExpiresAt = null };
            commitEvents.Add(new(end, actor, TimelineKinds.StepFailed, TimelineData.Of(("seq", step.Sequence), ("step", step.Name), ("attempt", step.Attempt), ("error_kind", kind), ("error", message), ("final", true))));
        }

        var commit = new RunCommit(claimed.RunId, WorkerId, end, (step.Sequence, step.Attempt), [new StepWrite(next, false)], [], null, wakeRun, commitEvents);
        await store.CommitAsync(commit, CancellationToken.None).ConfigureAwait(false);
        options.AfterCommit?.Invoke(claimed.RunId, [next]);
    }

    private async Task TryAppendAsync(string runId, NewTimelineEvent e)
    {
        try
        {
            await store.AppendTimelineAsync(runId, e, CancellationToken.None).ConfigureAwait(false);
        }
        catch (WorkflowStoreException ex)
        {
            logger.LogError(ex, "Could not record {Kind} on run {RunId}.", e.Kind, runId);
        }
    }

    private async Task<WorkflowDefinition?> GetDefinitionAsync(string hash)
    {
        if (definitions.TryGetValue(hash, out var d))
        {
            return d;
        }

        d = await store.GetDefinitionAsync(hash, CancellationToken.None).ConfigureAwait(false);
        if (d is not null)
        {
            definitions[hash] = d;
        }

        return d;
    }

    private sealed class InFlight : IDisposable
    {
        public InFlight(CancellationToken abandonAll)
        {
            Abandon = CancellationTokenSource.CreateLinkedTokenSource(abandonAll);
        }

        public CancellationTokenSource Cancel { get; } = new();

        public CancellationTokenSource Abandon { get; }

        public Task? Task { get; set; }

        /// <summary>Requests the run's cancellation, unless its execution has ended meanwhile.</summary>
        public async Task TryCancelAsync()
        {
            try
            {
                await Cancel.CancelAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                // The execution ended between the heartbeat's look-up and now: nothing is left to cancel.
            }
        }

        /// <summary>Abandons the work, unless it has ended meanwhile.</summary>
        public async Task TryAbandonAsync()
        {
            try
            {
                await Abandon.CancelAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                // As above: it ended first.
            }
        }

        public void Dispose()
        {
            Cancel.Dispose();
            Abandon.Dispose();
        }
    }
}
