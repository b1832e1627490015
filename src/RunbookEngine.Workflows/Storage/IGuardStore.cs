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
}
