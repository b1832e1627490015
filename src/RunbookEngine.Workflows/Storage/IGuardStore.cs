namespace RunbookEngine.Workflows.Storage;

/// <summary>
/// The guard state shared by every run and worker (cooldowns, rates, circuit breakers per target). A guard's
/// decision is made in the store as the run is created (<see cref="IWorkflowStore.StartRunAsync"/>); this is
/// reading and resetting it.
/// </summary>
public interface IGuardStore
{
    /// <summary>Reads guard keys with what their policy needs to show their state.</summary>
    /// <param name="key">Only this key; null for every key, most recently changed first.</param>
    /// <param name="limit">The most keys returned.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The guards.</returns>
    Task<IReadOnlyList<GuardRecord>> ListGuardsAsync(string? key, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Resets a guard: its saved state is cleared and the runs that ended before now are forgotten, so the next
    /// run of the key starts from a closed breaker and no cooldown. The reset is recorded (append-only) with
    /// who asked and why. Live runs still count.
    /// </summary>
    /// <param name="key">The guard key.</param>
    /// <param name="reset">Who, when and why.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>Whether the key exists (nothing is recorded when it does not).</returns>
    Task<bool> ResetGuardAsync(string key, GuardReset reset, CancellationToken cancellationToken);

    /// <summary>
    /// Decides a guarded start of a run that another engine runs (Temporal), whose runs are not in this store:
    /// the same policy sees the key's kernel runs and the other engine's runs it admitted, and an admitted run is
    /// kept in the store's guard ledger, counted live until <see cref="EndExternalRunAsync"/> says it ended.
    /// </summary>
    /// <param name="guard">The guard.</param>
    /// <param name="runId">The run asking to start.</param>
    /// <param name="now">Now.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The decision, or null when this run was admitted before (a start asked again: nothing changes).</returns>
    Task<GuardVerdict?> AdmitExternalRunAsync(RunGuard guard, string runId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Records that an admitted run of another engine ended, so its guard counts it as ended (a failure opens breakers).</summary>
    /// <param name="runId">The run.</param>
    /// <param name="status">How it ended: completed, failed or cancelled.</param>
    /// <param name="errorKind">Its error kind, if it failed.</param>
    /// <param name="failedSteps">How many of its steps failed.</param>
    /// <param name="at">When it ended.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>Whether it was a live run of the ledger (false when unknown or already ended).</returns>
    Task<bool> EndExternalRunAsync(string runId, RunStatus status, string? errorKind, int failedSteps, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>The other engine's runs of a key the ledger still counts live (to check them against that engine).</summary>
    /// <param name="key">The guard key.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>Their run ids.</returns>
    Task<IReadOnlyList<string>> ListLiveExternalRunsAsync(string key, CancellationToken cancellationToken);
}
