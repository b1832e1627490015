namespace RunbookEngine.Workflows.Storage;

/// <summary>What every store provider does the same way for guards.</summary>
public static class GuardStores
{
    /// <summary>The stored status names of runs a guard counts as live.</summary>
    public const string LiveStatuses = "'ready', 'running', 'waiting'";

    /// <summary>The stored status names of admitted runs that ended.</summary>
    public const string EndedStatuses = "'completed', 'failed', 'cancelled'";

    /// <summary>The stored name of an ended run's status, as the guard ledger keeps it.</summary>
    /// <param name="status">Completed, failed or cancelled.</param>
    /// <returns>Its stored name.</returns>
    public static string EndedName(RunStatus status) => status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled
        ? status.ToStoredName()
        : throw new ArgumentOutOfRangeException(nameof(status), status, "an ended run is completed, failed or cancelled");

    /// <summary>The events a new run starts its timeline with: <c>run.created</c>, then the guard's decision if there was one.</summary>
    /// <param name="run">The run.</param>
    /// <param name="verdict">The guard's decision, if guarded.</param>
    /// <returns>The events.</returns>
    public static IReadOnlyList<NewTimelineEvent> CreatedEvents(NewRun run, GuardVerdict? verdict)
    {
        ArgumentNullException.ThrowIfNull(run);
        var created = new NewTimelineEvent(run.Now, run.Actor, TimelineKinds.RunCreated, run.CreatedEventData);
        return verdict is null
            ? [created]
            : [created, new NewTimelineEvent(run.Now, "guard", verdict.Allowed ? TimelineKinds.GuardAllowed : TimelineKinds.GuardBlocked, verdict.EventData)];
    }

    /// <summary>Asks the policy, checking what it returns.</summary>
    /// <param name="guard">The guard.</param>
    /// <param name="context">What it sees.</param>
    /// <returns>Its verdict.</returns>
    public static GuardVerdict Decide(RunGuard guard, GuardContext context)
    {
        ArgumentNullException.ThrowIfNull(guard);
        var verdict = guard.Decide(context) ?? throw new WorkflowStoreException($"The guard policy for '{guard.Key}' returned no decision.");
        ArgumentException.ThrowIfNullOrEmpty(verdict.State);
        ArgumentException.ThrowIfNullOrEmpty(verdict.Reason);
        return verdict;
    }
}
