using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>An engine fault a drill injects: a worker dies during a step, or the store cannot be reached for a while.</summary>
/// <param name="Kind">What breaks.</param>
/// <param name="Step">The step whose call it hits (<c>worker_dies: STEP</c>, or <c>during: STEP</c> of a store outage); null for a store outage at a time.</param>
/// <param name="Attempt">Which attempt of the step's call it hits.</param>
/// <param name="At">When a store outage starts, from the drill's start; null when it starts during a step.</param>
/// <param name="Duration">How long the store is unreachable, or how long after a worker's death a new worker starts.</param>
/// <param name="Location">Where it is written.</param>
public sealed record DrillFault(DrillFaultKind Kind, string? Step, int Attempt, TimeSpan? At, TimeSpan Duration, SourceLocation Location)
{
    /// <summary>Gets the keys of a fault entry.</summary>
    public static readonly string[] Keys = ["worker_dies", "store_unreachable", "attempt", "restart_after", "at", "during"];

    /// <summary>Gets how long after a worker's death a new worker starts when a drill does not say: the default lease, after which it recovers the run.</summary>
    public static TimeSpan DefaultRestartAfter { get; } = TimeSpan.FromSeconds(30);
}
