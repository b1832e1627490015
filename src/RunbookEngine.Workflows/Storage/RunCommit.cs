namespace RunbookEngine.Workflows.Storage;

/// <summary>
/// Writes for one run applied atomically, and only while the writer still holds its lease (fencing).
/// </summary>
/// <param name="RunId">The run.</param>
/// <param name="Owner">The worker that must hold the lease.</param>
/// <param name="Now">The current time.</param>
/// <param name="FencedStep">When set, the writer holds the lease of this activity step (sequence, attempt) rather than of the run.</param>
/// <param name="Steps">Step rows to insert or update.</param>
/// <param name="ConsumedSignals">Signals consumed: (signal id, consuming step position).</param>
/// <param name="Transition">The run's status change, if any.</param>
/// <param name="WakeRun">Increment the run's wake count and make it ready if it is waiting (an activity finished).</param>
/// <param name="Events">Timeline events, appended in order.</param>
/// <param name="ExtendLeaseTo">When set (and the run stays running), renew the run lease to this time. A store may skip the renewal while more than half of the lease is left (the heartbeat renews it too).</param>
public sealed record RunCommit(
    string RunId,
    string Owner,
    DateTimeOffset Now,
    (int Sequence, int Attempt)? FencedStep,
    IReadOnlyList<StepWrite> Steps,
    IReadOnlyList<(long SignalId, int Sequence)> ConsumedSignals,
    RunTransition? Transition,
    bool WakeRun,
    IReadOnlyList<NewTimelineEvent> Events,
    DateTimeOffset? ExtendLeaseTo = null);
