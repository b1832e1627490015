namespace RunbookEngine.Workflows.Storage;

/// <summary>A change of a run's status made by the worker that leases it.</summary>
/// <param name="Status">The new status; anything but <see cref="RunStatus.Running"/> releases the lease.</param>
/// <param name="AvailableAt">For ready or waiting: when it becomes claimable (null: waits for an event).</param>
/// <param name="Output">The output JSON text, when completing.</param>
/// <param name="ErrorKind">The error kind, when failing.</param>
/// <param name="ErrorMessage">The error message, when failing or cancelling.</param>
/// <param name="SeenWakeCount">For waiting: the wake count the worker replayed with; if it changed since, the run is made ready instead so no event is lost.</param>
public sealed record RunTransition(
    RunStatus Status,
    DateTimeOffset? AvailableAt = null,
    string? Output = null,
    string? ErrorKind = null,
    string? ErrorMessage = null,
    long SeenWakeCount = 0);
