namespace RunbookEngine.Workflows.Storage;

/// <summary>
/// The durable store behind the kernel. Providers: SQLite (embedded default) and PostgreSQL; both pass
/// one compliance suite.
/// </summary>
/// <remarks>
/// Every write a worker makes for a run goes through <see cref="CommitAsync"/>, which applies it atomically
/// only while the worker still holds the lease: that, and the primary key on (run id, sequence), is the
/// fencing against two workers executing one run. Errors are <see cref="WorkflowStoreException"/> with a
/// message naming the problem and the database.
/// </remarks>
public interface IWorkflowStore : IGuardStore, IJournalStore, IDrillReportStore, IRetentionStore, ISessionStore, IAsyncDisposable
{
    /// <summary>Creates or upgrades the schema; idempotent and safe when several processes start at once.</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>Creates a run (and stores its definition by hash), or returns the existing run with the same id or idempotency key.</summary>
    /// <param name="run">The run to create.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The run and whether it was created.</returns>
    Task<StartRunResult> StartRunAsync(NewRun run, CancellationToken cancellationToken);

    /// <summary>Reads a run.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The run, or null.</returns>
    Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken);

    /// <summary>Lists runs, newest first.</summary>
    /// <param name="query">The filter.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The runs.</returns>
    Task<IReadOnlyList<RunRecord>> ListRunsAsync(RunQuery query, CancellationToken cancellationToken);

    /// <summary>Reads a run's timeline in order.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="afterSequence">Only events after this sequence number (0 for all).</param>
    /// <param name="limit">The most events returned.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The events.</returns>
    Task<IReadOnlyList<TimelineEvent>> GetTimelineAsync(string runId, long afterSequence, int limit, CancellationToken cancellationToken);

    /// <summary>Reads a stored definition.</summary>
    /// <param name="hash">The content hash.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The definition, or null.</returns>
    Task<WorkflowDefinition?> GetDefinitionAsync(string hash, CancellationToken cancellationToken);

    /// <summary>Stores a signal for a run and wakes the run if it waits.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="signal">The signal.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>What happened.</returns>
    Task<SignalOutcome> SignalAsync(string runId, NewSignal signal, CancellationToken cancellationToken);

    /// <summary>Records a cancellation request and wakes the run if it waits.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="actor">Who asks.</param>
    /// <param name="reason">Why, if given.</param>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>What happened.</returns>
    Task<CancelOutcome> RequestCancelAsync(string runId, string actor, string? reason, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Leases runs that are ready, due, or whose previous lease expired.</summary>
    /// <param name="request">The claim.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The claimed runs.</returns>
    Task<IReadOnlyList<ClaimedRun>> ClaimRunsAsync(ClaimRequest request, CancellationToken cancellationToken);

    /// <summary>Leases queued activity steps that are due, or whose previous lease expired; increments their attempt.</summary>
    /// <param name="request">The claim.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The claimed activities.</returns>
    Task<IReadOnlyList<ClaimedActivity>> ClaimActivitiesAsync(ClaimRequest request, CancellationToken cancellationToken);

    /// <summary>Reads what a worker needs to replay a run.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The history.</returns>
    Task<RunHistory> LoadHistoryAsync(string runId, CancellationToken cancellationToken);

    /// <summary>Applies a worker's writes atomically if it still holds the lease.</summary>
    /// <param name="commit">The writes.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    /// <exception cref="LeaseLostException">The lease is held by another worker, or a step position was recorded by someone else; nothing was applied.</exception>
    Task CommitAsync(RunCommit commit, CancellationToken cancellationToken);

    /// <summary>Renews the leases a worker holds.</summary>
    /// <param name="workerId">The worker.</param>
    /// <param name="runIds">Runs it executes.</param>
    /// <param name="activities">Activity steps it executes.</param>
    /// <param name="until">The new expiry.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>Which leases were lost and which runs were asked to cancel.</returns>
    Task<LeaseRenewal> RenewLeasesAsync(string workerId, IReadOnlyCollection<string> runIds, IReadOnlyCollection<(string RunId, int Sequence)> activities, DateTimeOffset until, CancellationToken cancellationToken);

    /// <summary>
    /// What is due and waits for a worker, per task queue and kind (for the queue depth and the age of the oldest
    /// waiting item, which say whether workers keep up). Queues with nothing due are left out.
    /// </summary>
    /// <param name="now">The current time: what is due by then counts.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The backlog, by queue and kind.</returns>
    Task<IReadOnlyList<QueueBacklog>> BacklogAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Gives runs and activities back: their leases expire now so another worker claims them at once.</summary>
    /// <param name="workerId">The worker.</param>
    /// <param name="runIds">Runs to release.</param>
    /// <param name="activities">Activity steps to release.</param>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    Task ReleaseLeasesAsync(string workerId, IReadOnlyCollection<string> runIds, IReadOnlyCollection<(string RunId, int Sequence)> activities, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Appends one event outside any lease (fencing rejections, operator notes). Append-only like every event.</summary>
    /// <param name="runId">The run.</param>
    /// <param name="timelineEvent">The event.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>A task.</returns>
    Task AppendTimelineAsync(string runId, NewTimelineEvent timelineEvent, CancellationToken cancellationToken);
}
