using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;
using Temporalio.Api.Enums.V1;
using Temporalio.Client;
using Temporalio.Common;
using Temporalio.Exceptions;
using WorkflowDefinition = RunbookEngine.Workflows.WorkflowDefinition;

namespace RunbookEngine.Temporal;

/// <summary>
/// The client side of the Temporal engine: runs are workflows of type <c>runbook</c> on a Temporal cluster; what
/// the CLI, the server and the alert router read of them comes from Temporal (describe, result, list) and from the
/// run's own journal (the <c>journal</c> query, answered by a worker), in the same shapes as the kernel's.
/// </summary>
/// <remarks>
/// A run's id is its workflow id. A start with an idempotency key (an alert's key) uses a workflow id derived from
/// it and Temporal's reject-duplicate policy, so a repeated alert finds the run it started for as long as the
/// namespace retains it. Guards are decided in the store given as <c>guards</c> (the same store the server and the
/// kernel's runs use): a guarded run is admitted there before its workflow starts, kept in the store's guard
/// ledger while it lives, and its end is read back from Temporal at the key's next decision. Without a store a
/// guarded runbook is refused at start with the reason, never started unguarded.
/// </remarks>
public sealed class TemporalRunClient : IRunClient
{
    private static readonly SearchAttributeKey<string> RunbookName = SearchAttributeKey.CreateKeyword("RunbookName");
    private static readonly SearchAttributeKey<string> TriggerSource = SearchAttributeKey.CreateKeyword("RunbookTriggerSource");
    private static readonly SearchAttributeKey<string> AlertFingerprint = SearchAttributeKey.CreateKeyword("RunbookAlertFingerprint");
    private static readonly SearchAttributeKey<string> Target = SearchAttributeKey.CreateKeyword("RunbookTarget");
    private static readonly SearchAttributeKey<string> DefinitionHashKey = SearchAttributeKey.CreateKeyword("RunbookDefinitionHash");

    /// <summary>The search attributes a run carries (Keyword): create them once per namespace (docs/operations.md).</summary>
    public static readonly IReadOnlyList<SearchAttributeKey<string>> SearchAttributes =
    [
        RunbookName, TriggerSource, AlertFingerprint, Target, DefinitionHashKey,
    ];

    private readonly ITemporalClient client;
    private readonly TemporalEngineOptions options;
    private readonly TimeProvider time;
    private readonly IGuardStore? guards;
    private readonly ConcurrentDictionary<string, WorkflowDefinition> definitions = new(StringComparer.Ordinal);

    /// <summary>Initializes a new instance of the <see cref="TemporalRunClient"/> class.</summary>
    /// <param name="client">A connected Temporal client.</param>
    /// <param name="options">The task queue and whether runs carry search attributes.</param>
    /// <param name="timeProvider">The clock of <see cref="Now"/>.</param>
    /// <param name="guards">Where guards decide (the server's or the CLI's store), or null: guarded runbooks are then refused.</param>
    public TemporalRunClient(ITemporalClient client, TemporalEngineOptions options, TimeProvider? timeProvider = null, IGuardStore? guards = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        this.client = client;
        this.options = options;
        time = timeProvider ?? TimeProvider.System;
        this.guards = guards;
    }

    /// <inheritdoc/>
    public DateTimeOffset Now => time.GetUtcNow();

    /// <inheritdoc/>
    public Task<StartRunResult> StartAsync(WorkflowDefinition definition, StartRunOptions? options = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => StartCoreAsync(definition, options, cancellationToken));

    /// <inheritdoc/>
    public Task<SignalOutcome> SignalAsync(string runId, string signalName, JsonNode? payload, string sender, CancellationToken cancellationToken = default) =>
        CallAsync(() => SignalCoreAsync(runId, signalName, payload, sender, cancellationToken));

    /// <inheritdoc/>
    public Task<CancelOutcome> CancelAsync(string runId, string actor, string? reason = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => CancelCoreAsync(runId, actor, reason, cancellationToken));

    /// <inheritdoc/>
    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default) =>
        CallAsync(() => GetRunCoreAsync(runId, cancellationToken));

    /// <inheritdoc/>
    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunQuery? query = null, CancellationToken cancellationToken = default) =>
        CallAsync(() => ListRunsCoreAsync(query, cancellationToken));

    /// <inheritdoc/>
    public Task<RunHistory> GetHistoryAsync(string runId, CancellationToken cancellationToken = default) =>
        CallAsync(() => GetHistoryCoreAsync(runId, cancellationToken));

    /// <inheritdoc/>
    public Task<IReadOnlyList<TimelineEvent>> GetTimelineAsync(string runId, long afterSequence = 0, int limit = 10_000, CancellationToken cancellationToken = default) =>
        CallAsync(() => GetTimelineCoreAsync(runId, afterSequence, limit, cancellationToken));

    /// <inheritdoc/>
    /// <remarks>Temporal cannot add to the history of a run that has ended: such an event is not kept, and the alert journal still has the alert.</remarks>
    public Task AnnotateAsync(string runId, NewTimelineEvent timelineEvent, CancellationToken cancellationToken = default) =>
        CallAsync(async () => { await AnnotateCoreAsync(runId, timelineEvent, cancellationToken).ConfigureAwait(false); return true; });

    /// <inheritdoc/>
    public Task<WorkflowDefinition?> GetDefinitionAsync(string hash, CancellationToken cancellationToken = default) =>
        CallAsync(() => GetDefinitionCoreAsync(hash, cancellationToken));

    /// <summary>The workflow id of a run started with an idempotency key: the same key gives the same id.</summary>
    /// <param name="idempotencyKey">The key.</param>
    /// <returns>The id.</returns>
    public static string RunIdFor(string idempotencyKey)
    {
        ArgumentNullException.ThrowIfNull(idempotencyKey);
        return "run_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(idempotencyKey)))[..32];
    }

    private async Task<StartRunResult> StartCoreAsync(WorkflowDefinition definition, StartRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        options ??= new StartRunOptions();
        if (options.Guard is { } unguardable && guards is null)
        {
            throw new TemporalEngineException($"runbook '{definition.Name}' has guards (key '{unguardable.Key}'), and this Temporal client has no store to decide them in; run it through `runbook serve --engine temporal` or a CLI with a store (--store), or on the built-in engine");
        }

        var now = Now;
        var runId = options.RunId ?? (options.IdempotencyKey is { } key ? RunIdFor(key) : "run_" + Guid.CreateVersion7(now).ToString("N"));
        GuardVerdict? verdict = null;
        if (options.Guard is { } guard)
        {
            // A start asked again (the same alert) finds its run, as on the kernel: the guard decides once per run.
            if (options.IdempotencyKey is not null && await GetRunCoreAsync(runId, cancellationToken).ConfigureAwait(false) is { } existing)
            {
                return new StartRunResult(existing, Created: false);
            }

            await ReconcileAsync(guard.Key, cancellationToken).ConfigureAwait(false);
            verdict = await guards!.AdmitExternalRunAsync(guard, runId, now, cancellationToken).ConfigureAwait(false);
        }

        var blocked = verdict is { Allowed: false } && options.Guard!.Enforce ? verdict.Reason : null;
        var created = JsonNode.Parse(TimelineData.Of(("workflow", definition.Name), ("definition_hash", definition.Hash), ("queue", this.options.TaskQueue), ("idempotency_key", options.IdempotencyKey)))!.AsObject();
        foreach (var (k, v) in options.CreatedEventData ?? [])
        {
            created[k] = v?.DeepClone();
        }

        var input = new TemporalRunInput(
            definition.Name,
            definition.Content,
            definition.Hash,
            options.Input?.DeepClone(),
            options.Actor,
            created,
            Blocked: blocked,
            TraceParent: options.TraceParent ?? EngineTelemetry.TraceParentForStart(definition.Name, runId),
            GuardKind: verdict is null ? null : verdict.Allowed ? TimelineKinds.GuardAllowed : TimelineKinds.GuardBlocked,
            GuardData: verdict?.EventData);
        var start = new WorkflowOptions(runId, this.options.TaskQueue)
        {
            IdReusePolicy = WorkflowIdReusePolicy.RejectDuplicate,
            StaticSummary = $"{definition.Name} started by {options.Actor}",
            Memo = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                [Memo.Runbook] = definition.Name,
                [Memo.DefinitionHash] = definition.Hash,
                [Memo.Definition] = definition.Content,
                [Memo.StartedBy] = options.Actor,
                [Memo.Input] = options.Input?.ToJsonString(WorkflowJson.Options) ?? "null",
                [Memo.IdempotencyKey] = options.IdempotencyKey ?? string.Empty,
            },
            TypedSearchAttributes = this.options.SearchAttributes ? Attributes(definition, options, created) : null,
            Rpc = new RpcOptions { CancellationToken = cancellationToken },
        };
        definitions[definition.Hash] = definition;
        try
        {
            await client.StartWorkflowAsync(RunbookTemporalWorkflow.TypeName, [input], start).ConfigureAwait(false);
        }
        catch (WorkflowAlreadyStartedException)
        {
            var existing = await GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
            return new StartRunResult(existing!, Created: false);
        }

        EngineTelemetry.RunStarted(definition.Name, options.Guard is { Enforce: true } enforced ? enforced.Key : null, blocked is not null);

        // A refused run is blocked from its start (its workflow only records that), as the kernel's is.
        var run = blocked is null
            ? new RunRecord(runId, definition.Name, definition.Hash, this.options.TaskQueue, RunStatus.Ready, options.IdempotencyKey, options.Input?.ToJsonString(WorkflowJson.Options), null, null, null, options.Actor, now, now, null, now, null, null, false, null, null, 0)
            : new RunRecord(runId, definition.Name, definition.Hash, this.options.TaskQueue, RunStatus.Blocked, options.IdempotencyKey, options.Input?.ToJsonString(WorkflowJson.Options), null, RunbookTemporalWorkflow.BlockedErrorType, blocked, options.Actor, now, now, now, null, null, null, false, null, null, 0);
        return new StartRunResult(run, Created: true);
    }

    /// <summary>
    /// Tells the guard ledger how the key's runs it still counts live have ended on Temporal (a worker reports
    /// nothing to the store): read when the guard is about to decide, which is when it needs them.
    /// </summary>
    private async Task ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        foreach (var id in await guards!.ListLiveExternalRunsAsync(key, cancellationToken).ConfigureAwait(false))
        {
            var run = await GetRunCoreAsync(id, cancellationToken).ConfigureAwait(false);
            if (run is null)
            {
                // Gone from the namespace (retention, or never started): it runs no more.
                await guards.EndExternalRunAsync(id, RunStatus.Cancelled, "RunNotFound", 0, Now, cancellationToken).ConfigureAwait(false);
            }
            else if (run.Status.IsTerminal())
            {
                var failedSteps = 0;
                if (run.Status == RunStatus.Failed)
                {
                    // As the kernel counts them: steps whose last word was a failure.
                    var last = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var e in await GetTimelineAsync(id, 0, 10_000, cancellationToken).ConfigureAwait(false))
                    {
                        if (e.Kind.StartsWith("step.", StringComparison.Ordinal) && e.Data is { } data && JsonNode.Parse(data)?["step"]?.GetValue<string>() is { } step)
                        {
                            last[step] = e.Kind;
                        }
                    }

                    failedSteps = last.Values.Count(k => k == TimelineKinds.StepFailed);
                }

                var status = run.Status == RunStatus.Blocked ? RunStatus.Cancelled : run.Status;
                await guards.EndExternalRunAsync(id, status, run.ErrorKind, failedSteps, run.CompletedAt ?? Now, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<SignalOutcome> SignalCoreAsync(string runId, string signalName, JsonNode? payload, string sender, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        ArgumentException.ThrowIfNullOrWhiteSpace(signalName);
        ArgumentException.ThrowIfNullOrWhiteSpace(sender);
        var run = await GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        if (run is null)
        {
            return SignalOutcome.RunNotFound;
        }

        if (run.Status.IsTerminal())
        {
            return SignalOutcome.RunFinished;
        }

        await SendAsync(runId, new TemporalSignal(signalName, payload?.DeepClone(), sender), cancellationToken).ConfigureAwait(false);
        return SignalOutcome.Delivered;
    }

    private async Task<CancelOutcome> CancelCoreAsync(string runId, string actor, string? reason = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        ArgumentException.ThrowIfNullOrWhiteSpace(actor);
        var run = await GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        if (run is null)
        {
            return CancelOutcome.RunNotFound;
        }

        if (run.Status.IsTerminal())
        {
            return CancelOutcome.RunFinished;
        }

        // Who and why first (Temporal's cancel request carries neither), then the request itself.
        await SendAsync(runId, new TemporalSignal(RunbookTemporalWorkflow.CancelSignal, new JsonObject { ["reason"] = reason }, actor), cancellationToken).ConfigureAwait(false);
        await client.GetWorkflowHandle(runId).CancelAsync(new WorkflowCancelOptions { Rpc = new RpcOptions { CancellationToken = cancellationToken } }).ConfigureAwait(false);
        return CancelOutcome.Requested;
    }

    private async Task<RunRecord?> GetRunCoreAsync(string runId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        var handle = client.GetWorkflowHandle(runId);
        WorkflowExecutionDescription description;
        try
        {
            description = await handle.DescribeAsync(new WorkflowDescribeOptions { Rpc = new RpcOptions { CancellationToken = cancellationToken } }).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.NotFound)
        {
            return null;
        }

        if (description.WorkflowType != RunbookTemporalWorkflow.TypeName)
        {
            return null;
        }

        var memo = await MemoOfAsync(description).ConfigureAwait(false);
        var record = Record(description, memo);
        if (description.Status is WorkflowExecutionStatus.Completed or WorkflowExecutionStatus.Failed or WorkflowExecutionStatus.Terminated or WorkflowExecutionStatus.TimedOut)
        {
            return await WithOutcomeAsync(handle, record, cancellationToken).ConfigureAwait(false);
        }

        if (description.Status == WorkflowExecutionStatus.Running)
        {
            // Running or waiting: the run's journal knows (when a worker answers; else it stays "running").
            try
            {
                return History(record, await JournalAsync(runId, cancellationToken).ConfigureAwait(false)).Run;
            }
            catch (TemporalEngineException)
            {
                return record;
            }
        }

        return record;
    }

    private async Task<IReadOnlyList<RunRecord>> ListRunsCoreAsync(RunQuery? query = null, CancellationToken cancellationToken = default)
    {
        query ??= new RunQuery();
        if (query.IdempotencyKey is { } key)
        {
            var one = await GetRunAsync(RunIdFor(key), cancellationToken).ConfigureAwait(false);
            return one is null || (query.Status is { } s && one.Status != s) ? [] : [one];
        }

        if (query.Target is not null)
        {
            return []; // guards are refused on Temporal, so no run there has a target
        }

        var runs = new List<RunRecord>();
        await foreach (var execution in client.ListWorkflowsAsync(ListQuery(query, options.SearchAttributes), new WorkflowListOptions { Limit = query.Limit, Rpc = new RpcOptions { CancellationToken = cancellationToken } }).ConfigureAwait(false))
        {
            var memo = await MemoOfAsync(execution).ConfigureAwait(false);
            var record = Record(execution, memo);
            if (query.Status is { } status && record.Status != status && !(status == RunStatus.Running && record.Status is RunStatus.Waiting or RunStatus.Ready))
            {
                continue;
            }

            if (query.WorkflowName is { } name && record.WorkflowName != name)
            {
                continue;
            }

            // Visibility has no starter attribute, and its order within one start time is its own: both are applied
            // to the page Temporal returns (a page may then hold fewer runs than the limit).
            if (query.StartedByPrefix is { } prefix && !record.CreatedBy.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            if (query is { CreatedBefore: { } at, BeforeRunId: { } beforeId } && record.CreatedAt >= at && string.CompareOrdinal(record.RunId, beforeId) >= 0)
            {
                continue;
            }

            runs.Add(record);
        }

        return runs;
    }

    private async Task<RunHistory> GetHistoryCoreAsync(string runId, CancellationToken cancellationToken = default)
    {
        var run = await GetRunAsync(runId, cancellationToken).ConfigureAwait(false) ?? throw new TemporalEngineException($"no run '{runId}' in Temporal namespace '{options.Namespace}'");
        var journal = await JournalAsync(runId, cancellationToken).ConfigureAwait(false);
        return History(run, journal);
    }

    private async Task<IReadOnlyList<TimelineEvent>> GetTimelineCoreAsync(string runId, long afterSequence = 0, int limit = 10_000, CancellationToken cancellationToken = default)
    {
        var journal = await JournalAsync(runId, cancellationToken).ConfigureAwait(false);
        return [.. Timeline(runId, journal).Where(e => e.Sequence > afterSequence).Take(limit)];
    }

    private async Task AnnotateCoreAsync(string runId, NewTimelineEvent timelineEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(timelineEvent);
        var run = await GetRunAsync(runId, cancellationToken).ConfigureAwait(false);
        if (run is null || run.Status.IsTerminal())
        {
            return;
        }

        await SendAsync(runId, new TemporalSignal(RunbookTemporalWorkflow.AnnotateSignal, new JsonObject { ["kind"] = timelineEvent.Kind, ["data"] = WorkflowJson.Parse(timelineEvent.Data) }, timelineEvent.Actor), cancellationToken).ConfigureAwait(false);
    }

    private async Task<WorkflowDefinition?> GetDefinitionCoreAsync(string hash, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(hash);
        if (definitions.TryGetValue(hash, out var known) || !options.SearchAttributes)
        {
            return known;
        }

        await foreach (var execution in client.ListWorkflowsAsync($"WorkflowType = '{RunbookTemporalWorkflow.TypeName}' AND {DefinitionHashKey.Name} = '{Quote(hash)}'", new WorkflowListOptions { Limit = 1, Rpc = new RpcOptions { CancellationToken = cancellationToken } }).ConfigureAwait(false))
        {
            await MemoOfAsync(execution).ConfigureAwait(false);
        }

        return definitions.GetValueOrDefault(hash);
    }

    /// <summary>A run's timeline from its journal: sequence numbers from 1 and the kernel's hash chain over them.</summary>
    internal static IReadOnlyList<TimelineEvent> Timeline(string runId, RunJournalSnapshot journal)
    {
        var events = new List<TimelineEvent>(journal.Events.Count);
        var previous = TimelineChain.Genesis;
        foreach (var e in journal.Events)
        {
            var sequence = events.Count + 1;
            var hash = TimelineChain.ComputeHash(previous, runId, sequence, e.At, e.Actor, e.Kind, e.Data);
            events.Add(new TimelineEvent(runId, sequence, e.At, e.Actor, e.Kind, e.Data, hash));
            previous = hash;
        }

        return events;
    }

    /// <summary>A run's history from its journal, in the kernel's shape.</summary>
    internal static RunHistory History(RunRecord run, RunJournalSnapshot journal)
    {
        var status = run.Status;
        if (status is RunStatus.Running or RunStatus.Waiting or RunStatus.Ready)
        {
            // The journal knows what the run waits for: an activity scheduled and not ended is running.
            status = journal.Steps.Any(s => s.Kind == StepKind.Activity && s.Status == StepStatus.Queued) ? RunStatus.Running : RunStatus.Waiting;
        }

        return new RunHistory(run with { Status = status }, journal.Steps, journal.PendingSignals);
    }

    private static string ListQuery(RunQuery query, bool searchAttributes)
    {
        var clauses = new List<string> { $"WorkflowType = '{RunbookTemporalWorkflow.TypeName}'" };
        if (query.Status is { } status)
        {
            clauses.Add(status switch
            {
                RunStatus.Completed => "ExecutionStatus = 'Completed'",
                RunStatus.Cancelled => "ExecutionStatus = 'Canceled'",
                RunStatus.Failed or RunStatus.Blocked => "ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut')",
                _ => "ExecutionStatus = 'Running'",
            });
        }

        if (query.WorkflowName is { } name && searchAttributes)
        {
            clauses.Add($"{RunbookName.Name} = '{Quote(name)}'");
        }

        if (query.CreatedFrom is { } from)
        {
            clauses.Add($"StartTime >= '{from.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}'");
        }

        if (query.CreatedBefore is { } before)
        {
            clauses.Add($"StartTime {(query.BeforeRunId is null ? "<" : "<=")} '{before.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}'");
        }

        return string.Join(" AND ", clauses);
    }

    private static string Quote(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal);

    private static SearchAttributeCollection Attributes(WorkflowDefinition definition, StartRunOptions options, JsonObject created)
    {
        var builder = new SearchAttributeCollection.Builder()
            .Set(RunbookName, definition.Name)
            .Set(DefinitionHashKey, definition.Hash)
            .Set(TriggerSource, created["trigger"]?["source"]?.GetValue<string>() ?? (options.Actor.StartsWith("user:", StringComparison.Ordinal) ? "cli" : options.Actor));
        if (created["trigger"]?["alert"]?["fingerprint"]?.GetValue<string>() is { Length: > 0 } fingerprint)
        {
            builder.Set(AlertFingerprint, fingerprint);
        }

        if (TargetOf(options.Input?["inputs"], created["trigger"]?["alert"]) is { } target)
        {
            builder.Set(Target, target);
        }

        return builder.ToSearchAttributeCollection();
    }

    /// <summary>The run's target for search: the input named target, host, instance, service or resource, else the alert's instance label.</summary>
    private static string? TargetOf(JsonNode? inputs, JsonNode? alert)
    {
        foreach (var name in (string[])["target", "host", "instance", "service", "resource"])
        {
            if (inputs?[name] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0)
            {
                return s;
            }
        }

        return alert?["labels"]?["instance"]?.GetValue<string>();
    }

    private static RunRecord Record(WorkflowExecution execution, IReadOnlyDictionary<string, string> memo)
    {
        var status = execution.Status switch
        {
            WorkflowExecutionStatus.Completed => RunStatus.Completed,
            WorkflowExecutionStatus.Canceled => RunStatus.Cancelled,
            WorkflowExecutionStatus.Failed or WorkflowExecutionStatus.Terminated or WorkflowExecutionStatus.TimedOut => RunStatus.Failed,
            _ => RunStatus.Running,
        };
        var started = new DateTimeOffset(DateTime.SpecifyKind(execution.StartTime, DateTimeKind.Utc));
        DateTimeOffset? closed = execution.CloseTime is { } c ? new DateTimeOffset(DateTime.SpecifyKind(c, DateTimeKind.Utc)) : null;
        return new RunRecord(
            execution.Id,
            memo.GetValueOrDefault(Memo.Runbook) ?? execution.WorkflowType,
            memo.GetValueOrDefault(Memo.DefinitionHash) ?? string.Empty,
            execution.TaskQueue,
            status,
            memo.GetValueOrDefault(Memo.IdempotencyKey) is { Length: > 0 } key ? key : null,
            memo.GetValueOrDefault(Memo.Input),
            null,
            null,
            null,
            memo.GetValueOrDefault(Memo.StartedBy) ?? "system",
            started,
            closed ?? started,
            closed,
            null,
            null,
            null,
            false,
            null,
            null,
            execution.HistoryLength);
    }

    private static async Task<RunRecord> WithOutcomeAsync(WorkflowHandle handle, RunRecord record, CancellationToken cancellationToken)
    {
        try
        {
            var output = await handle.GetResultAsync<JsonNode?>(followRuns: false, new RpcOptions { CancellationToken = cancellationToken }).ConfigureAwait(false);
            return record with { Output = output?.ToJsonString(WorkflowJson.Options) ?? "null" };
        }
        catch (WorkflowFailedException ex)
        {
            var (kind, message) = ex.InnerException switch
            {
                ApplicationFailureException af => (af.ErrorType ?? "Unknown", af.Message),
                TerminatedFailureException tf => ("Terminated", "terminated in Temporal: " + tf.Message),
                TimeoutFailureException => ("Timeout", "the workflow's execution timeout passed"),
                { } inner => (inner.GetType().Name, inner.Message),
                null => ("Failed", ex.Message),
            };
            var status = kind == RunbookTemporalWorkflow.BlockedErrorType ? RunStatus.Blocked : RunStatus.Failed;
            return record with { Status = status, ErrorKind = kind, ErrorMessage = message };
        }
    }

    private async Task<IReadOnlyDictionary<string, string>> MemoOfAsync(WorkflowExecution execution)
    {
        var memo = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in execution.Memo)
        {
            memo[key] = await value.ToValueAsync<string>().ConfigureAwait(false);
        }

        if (memo.TryGetValue(Memo.Definition, out var content) && memo.TryGetValue(Memo.Runbook, out var name))
        {
            var definition = new WorkflowDefinition(name, content);
            definitions.TryAdd(definition.Hash, definition);
        }

        return memo;
    }

    private async Task<RunJournalSnapshot> JournalAsync(string runId, CancellationToken cancellationToken)
    {
        try
        {
            return await client.GetWorkflowHandle(runId).QueryAsync<RunJournalSnapshot>(RunbookTemporalWorkflow.JournalQuery, [], new WorkflowQueryOptions { Rpc = new RpcOptions { CancellationToken = cancellationToken, Timeout = options.QueryTimeout } }).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.Code == RpcException.StatusCode.NotFound)
        {
            throw new TemporalEngineException($"no run '{runId}' in Temporal namespace '{options.Namespace}'");
        }
        catch (RpcException ex) when (ex.Code is RpcException.StatusCode.DeadlineExceeded or RpcException.StatusCode.Cancelled or RpcException.StatusCode.FailedPrecondition)
        {
            throw new TemporalEngineException($"run {runId}'s journal could not be read: no Temporal worker answered on task queue '{options.TaskQueue}' within {options.QueryTimeout.TotalSeconds:0} s (start one with `runbook worker --engine temporal --task-queue {options.TaskQueue}`): {ex.Message}");
        }
    }

    /// <summary>A call to Temporal whose RPC failure (unreachable, refused, overloaded) becomes one line naming Temporal and the code.</summary>
    private async Task<T> CallAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            throw new TemporalEngineException($"Temporal at {options.Address} (namespace '{options.Namespace}') refused the call ({ex.Code}): {ex.Message.Split('\n', 2)[0]}", ex);
        }
    }

    private Task SendAsync(string runId, TemporalSignal signal, CancellationToken cancellationToken) =>
        client.GetWorkflowHandle(runId).SignalAsync(RunbookTemporalWorkflow.SignalName, [signal], new WorkflowSignalOptions { Rpc = new RpcOptions { CancellationToken = cancellationToken } });

    /// <summary>The memo keys of a run.</summary>
    private static class Memo
    {
        public const string Runbook = "runbook";
        public const string DefinitionHash = "definition_hash";
        public const string Definition = "definition";
        public const string StartedBy = "started_by";
        public const string Input = "input";
        public const string IdempotencyKey = "idempotency_key";
    }
}
