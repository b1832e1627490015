namespace RunbookEngine.Workflows.Storage;

/// <summary>
/// Admission control for a new run, decided inside the store's write transaction so that every process
/// sharing the store sees one order of decisions. The kernel knows nothing of the policy: it hands
/// <see cref="Decide"/> the guard key's saved state, its live runs and the runs that ended since the last
/// decision, and stores what it returns.
/// </summary>
/// <param name="Key">The guard key (e.g. <c>restart-service/web-1</c>): runs with one key share one guard.</param>
/// <param name="Decide">The policy; pure (it may run again if the transaction is retried).</param>
/// <param name="Enforce">
/// When false (dry-runs) the decision is recorded in the run's timeline but the run starts anyway, nothing
/// of the guard's state changes and the run does not count against the guard.
/// </param>
public sealed record RunGuard(string Key, Func<GuardContext, GuardVerdict> Decide, bool Enforce = true);

/// <summary>What a guard policy sees when a run asks to start.</summary>
/// <param name="Key">The guard key.</param>
/// <param name="State">The state the policy saved last time, or null.</param>
/// <param name="Live">Admitted runs of the key that have not ended.</param>
/// <param name="Ended">Admitted runs of the key that ended since the policy last saw them, oldest end first.</param>
/// <param name="LastReset">The last reset of the key, if any.</param>
/// <param name="RunId">The run asking to start (empty when only showing the state).</param>
/// <param name="Now">The current time.</param>
public sealed record GuardContext(
    string Key,
    string? State,
    IReadOnlyList<GuardRun> Live,
    IReadOnlyList<GuardRun> Ended,
    GuardReset? LastReset,
    string RunId,
    DateTimeOffset Now);

/// <summary>A run as a guard sees it.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Status">Its status.</param>
/// <param name="CreatedAt">When it was admitted.</param>
/// <param name="CompletedAt">When it ended, if it did.</param>
/// <param name="ErrorKind">Its error kind, if it failed.</param>
/// <param name="FailedSteps">How many of its steps failed for good (handled by the workflow or not).</param>
public sealed record GuardRun(string RunId, RunStatus Status, DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt, string? ErrorKind, int FailedSteps = 0);

/// <summary>A recorded reset of a guard.</summary>
/// <param name="At">When.</param>
/// <param name="Actor">Who.</param>
/// <param name="Reason">Why.</param>
public sealed record GuardReset(DateTimeOffset At, string Actor, string Reason);

/// <summary>A guard policy's decision.</summary>
/// <param name="Allowed">Whether the run starts; a refused run is stored with status <see cref="RunStatus.Blocked"/>.</param>
/// <param name="State">The state to save (JSON text).</param>
/// <param name="Reason">One line: why it was allowed or blocked (the error message of a blocked run).</param>
/// <param name="EventData">The data of the <c>guard.allowed</c> or <c>guard.blocked</c> timeline event (JSON object text).</param>
public sealed record GuardVerdict(bool Allowed, string State, string Reason, string EventData);

/// <summary>A guard key as stored, with what its policy needs to show its state.</summary>
/// <param name="Key">The key.</param>
/// <param name="State">The saved state.</param>
/// <param name="UpdatedAt">When a decision or reset last changed it.</param>
/// <param name="Live">Admitted runs that have not ended.</param>
/// <param name="Ended">Runs that ended since the last decision.</param>
/// <param name="LastReset">The last reset, if any.</param>
public sealed record GuardRecord(string Key, string? State, DateTimeOffset UpdatedAt, IReadOnlyList<GuardRun> Live, IReadOnlyList<GuardRun> Ended, GuardReset? LastReset);
