using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Drills;

/// <summary>
/// The store as a drill's engine sees it: the real store, except while an injected outage lasts, when every read and
/// write fails with <see cref="WorkflowStoreException"/> as an unreachable database's would. The drill's own
/// bookkeeping reads the real store underneath.
/// </summary>
internal sealed class DrillStore(IWorkflowStore inner, TimeProvider clock) : IWorkflowStore
{
    private readonly Lock gate = new();
    private readonly List<(DateTimeOffset From, DateTimeOffset Until)> outages = [];

    /// <summary>Gets the end of the outage under way now, or null when the store is reachable.</summary>
    public DateTimeOffset? DownUntil
    {
        get
        {
            var now = clock.GetUtcNow();
            lock (gate)
            {
                return outages.Where(o => o.From <= now && now < o.Until).Select(o => (DateTimeOffset?)o.Until).Max();
            }
        }
    }

    /// <summary>Gets when outages still to come or under way end, for the drill's clock to stop at.</summary>
    public IReadOnlyList<DateTimeOffset> Ends
    {
        get
        {
            lock (gate)
            {
                return [.. outages.Select(o => o.Until)];
            }
        }
    }

    /// <summary>Makes the store unreachable from <paramref name="from"/> for <paramref name="duration"/>.</summary>
    public void Outage(DateTimeOffset from, TimeSpan duration)
    {
        lock (gate)
        {
            outages.Add((from, from + duration));
        }
    }

    public Task MigrateAsync(CancellationToken cancellationToken) => UpAsync(() => inner.MigrateAsync(cancellationToken));

    public Task<StartRunResult> StartRunAsync(NewRun run, CancellationToken cancellationToken) => UpAsync(() => inner.StartRunAsync(run, cancellationToken));

    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken) => UpAsync(() => inner.GetRunAsync(runId, cancellationToken));

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunQuery query, CancellationToken cancellationToken) => UpAsync(() => inner.ListRunsAsync(query, cancellationToken));

    public Task<IReadOnlyList<TimelineEvent>> GetTimelineAsync(string runId, long afterSequence, int limit, CancellationToken cancellationToken) =>
        UpAsync(() => inner.GetTimelineAsync(runId, afterSequence, limit, cancellationToken));

    public Task<WorkflowDefinition?> GetDefinitionAsync(string hash, CancellationToken cancellationToken) => UpAsync(() => inner.GetDefinitionAsync(hash, cancellationToken));

    public Task<SignalOutcome> SignalAsync(string runId, NewSignal signal, CancellationToken cancellationToken) => UpAsync(() => inner.SignalAsync(runId, signal, cancellationToken));

    public Task<CancelOutcome> RequestCancelAsync(string runId, string actor, string? reason, DateTimeOffset now, CancellationToken cancellationToken) =>
        UpAsync(() => inner.RequestCancelAsync(runId, actor, reason, now, cancellationToken));

    public Task<IReadOnlyList<ClaimedRun>> ClaimRunsAsync(ClaimRequest request, CancellationToken cancellationToken) => UpAsync(() => inner.ClaimRunsAsync(request, cancellationToken));

    public Task<IReadOnlyList<ClaimedActivity>> ClaimActivitiesAsync(ClaimRequest request, CancellationToken cancellationToken) => UpAsync(() => inner.ClaimActivitiesAsync(request, cancellationToken));

    public Task<RunHistory> LoadHistoryAsync(string runId, CancellationToken cancellationToken) => UpAsync(() => inner.LoadHistoryAsync(runId, cancellationToken));

    public Task CommitAsync(RunCommit commit, CancellationToken cancellationToken) => UpAsync(() => inner.CommitAsync(commit, cancellationToken));

    public Task<LeaseRenewal> RenewLeasesAsync(string workerId, IReadOnlyCollection<string> runIds, IReadOnlyCollection<(string RunId, int Sequence)> activities, DateTimeOffset until, CancellationToken cancellationToken) =>
        UpAsync(() => inner.RenewLeasesAsync(workerId, runIds, activities, until, cancellationToken));

    public Task<IReadOnlyList<QueueBacklog>> BacklogAsync(DateTimeOffset now, CancellationToken cancellationToken) => UpAsync(() => inner.BacklogAsync(now, cancellationToken));

    public Task ReleaseLeasesAsync(string workerId, IReadOnlyCollection<string> runIds, IReadOnlyCollection<(string RunId, int Sequence)> activities, DateTimeOffset now, CancellationToken cancellationToken) =>
        UpAsync(() => inner.ReleaseLeasesAsync(workerId, runIds, activities, now, cancellationToken));

    public Task AppendTimelineAsync(string runId, NewTimelineEvent timelineEvent, CancellationToken cancellationToken) => UpAsync(() => inner.AppendTimelineAsync(runId, timelineEvent, cancellationToken));

    public Task AppendJournalAsync(IReadOnlyList<NewJournalEntry> entries, CancellationToken cancellationToken) => UpAsync(() => inner.AppendJournalAsync(entries, cancellationToken));

    public Task<IReadOnlyList<JournalEntry>> ListJournalAsync(JournalQuery query, CancellationToken cancellationToken) => UpAsync(() => inner.ListJournalAsync(query, cancellationToken));

    public Task<IReadOnlyList<GuardRecord>> ListGuardsAsync(string? key, int limit, CancellationToken cancellationToken) => UpAsync(() => inner.ListGuardsAsync(key, limit, cancellationToken));

    public Task<bool> ResetGuardAsync(string key, GuardReset reset, CancellationToken cancellationToken) => UpAsync(() => inner.ResetGuardAsync(key, reset, cancellationToken));

    public Task<DrillReport> AppendDrillReportAsync(NewDrillReport report, CancellationToken cancellationToken) => UpAsync(() => inner.AppendDrillReportAsync(report, cancellationToken));

    public Task<IReadOnlyList<DrillReport>> ListDrillReportsAsync(DrillReportQuery query, CancellationToken cancellationToken) => UpAsync(() => inner.ListDrillReportsAsync(query, cancellationToken));

    public Task<DrillReport?> GetDrillReportAsync(long id, CancellationToken cancellationToken) => UpAsync(() => inner.GetDrillReportAsync(id, cancellationToken));

    public Task SetLiveDrillScriptAsync(LiveDrillScript script, CancellationToken cancellationToken) => UpAsync(() => inner.SetLiveDrillScriptAsync(script, cancellationToken));

    public Task<LiveDrillScript?> GetLiveDrillScriptAsync(string drill, DateTimeOffset now, CancellationToken cancellationToken) => UpAsync(() => inner.GetLiveDrillScriptAsync(drill, now, cancellationToken));

    public Task EndLiveDrillScriptAsync(string drill, DateTimeOffset now, CancellationToken cancellationToken) => UpAsync(() => inner.EndLiveDrillScriptAsync(drill, now, cancellationToken));

    public Task<GuardVerdict?> AdmitExternalRunAsync(RunGuard guard, string runId, DateTimeOffset now, CancellationToken cancellationToken) => UpAsync(() => inner.AdmitExternalRunAsync(guard, runId, now, cancellationToken));

    public Task<bool> EndExternalRunAsync(string runId, RunStatus status, string? errorKind, int failedSteps, DateTimeOffset at, CancellationToken cancellationToken) => UpAsync(() => inner.EndExternalRunAsync(runId, status, errorKind, failedSteps, at, cancellationToken));

    public Task<IReadOnlyList<string>> ListLiveExternalRunsAsync(string key, CancellationToken cancellationToken) => UpAsync(() => inner.ListLiveExternalRunsAsync(key, cancellationToken));

    public Task OpenSessionAsync(ConsoleSession session, DateTimeOffset idleBefore, int keepPerToken, CancellationToken cancellationToken) => UpAsync(() => inner.OpenSessionAsync(session, idleBefore, keepPerToken, cancellationToken));

    public Task<ConsoleSession?> GetSessionAsync(string id, CancellationToken cancellationToken) => UpAsync(() => inner.GetSessionAsync(id, cancellationToken));

    public Task TouchSessionAsync(string id, DateTimeOffset lastSeen, CancellationToken cancellationToken) => UpAsync(() => inner.TouchSessionAsync(id, lastSeen, cancellationToken));

    public Task EndSessionAsync(string id, CancellationToken cancellationToken) => UpAsync(() => inner.EndSessionAsync(id, cancellationToken));

    public Task<PruneCount> CountPrunableAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken) => UpAsync(() => inner.CountPrunableAsync(endedBefore, cancellationToken));

    public Task<IReadOnlyList<RunRecord>> ListPrunableRunsAsync(DateTimeOffset endedBefore, int limit, CancellationToken cancellationToken) => UpAsync(() => inner.ListPrunableRunsAsync(endedBefore, limit, cancellationToken));

    public Task<IReadOnlyList<PrunedRun>> PruneRunsAsync(RunPruning pruning, CancellationToken cancellationToken) => UpAsync(() => inner.PruneRunsAsync(pruning, cancellationToken));

    public Task<int> PruneJournalAsync(JournalPruning pruning, CancellationToken cancellationToken) => UpAsync(() => inner.PruneJournalAsync(pruning, cancellationToken));

    public Task<PrunedRun?> GetPrunedRunAsync(string runId, CancellationToken cancellationToken) => UpAsync(() => inner.GetPrunedRunAsync(runId, cancellationToken));

    /// <summary>The drill owns the real store and disposes it; this view holds nothing.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task<T> UpAsync<T>(Func<Task<T>> call) =>
        DownUntil is { } until
            ? Task.FromException<T>(new WorkflowStoreException($"the store is unreachable (drill fault, until {until:O})"))
            : call();

    private Task UpAsync(Func<Task> call) =>
        DownUntil is { } until
            ? Task.FromException(new WorkflowStoreException($"the store is unreachable (drill fault, until {until:O})"))
            : call();
}
