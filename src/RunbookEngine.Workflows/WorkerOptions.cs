using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Workflows;

/// <summary>Options of a <see cref="WorkflowWorker"/>.</summary>
public sealed record WorkerOptions
{
    /// <summary>Gets the worker's id, recorded as the actor of its timeline events. Default: host name, process id and a random suffix.</summary>
    public string WorkerId { get; init; } = $"{Environment.MachineName.ToLowerInvariant()}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>Gets the task queues served, for workflow code and for activities. Default <c>default</c>.</summary>
    public IReadOnlyList<string> Queues { get; init; } = ["default"];

    /// <summary>Gets the most runs executed at once. Default 16.</summary>
    public int MaxConcurrentRuns { get; init; } = 16;

    /// <summary>Gets the most activities executed at once. Default 16.</summary>
    public int MaxConcurrentActivities { get; init; } = 16;

    /// <summary>Gets how long a lease lasts unless renewed; a crashed worker's runs are recovered after it. Default 30 s.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets how often leases are renewed and cancellation requests picked up. Default: a third of the lease.</summary>
    public TimeSpan? HeartbeatInterval { get; init; }

    /// <summary>Gets how long an idle worker waits before polling again (it is woken at once by <see cref="WorkflowWorker.Notify"/>). Default 1 s.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets how long a graceful shutdown waits for in-flight work before abandoning it to other workers. Default 30 s.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets a callback invoked after every commit with the step rows it made durable (diagnostics and tests).</summary>
    public Action<string, IReadOnlyList<StepRecord>>? AfterCommit { get; init; }

    /// <summary>Gets the effective heartbeat interval.</summary>
    public TimeSpan EffectiveHeartbeatInterval => HeartbeatInterval ?? LeaseDuration / 3;

    /// <summary>Checks that the options are coherent.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(WorkerId))
        {
            throw new ArgumentException("Worker id must not be empty.");
        }

        if (Queues.Count == 0 || Queues.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("A worker serves at least one task queue, and queue names must not be empty.");
        }

        if (MaxConcurrentRuns < 1 || MaxConcurrentActivities < 0)
        {
            throw new ArgumentException("Concurrency must be at least 1 run (and 0 or more activities).");
        }

        if (LeaseDuration <= TimeSpan.Zero || EffectiveHeartbeatInterval <= TimeSpan.Zero || EffectiveHeartbeatInterval >= LeaseDuration)
        {
            throw new ArgumentException($"The heartbeat interval ({EffectiveHeartbeatInterval}) must be positive and shorter than the lease ({LeaseDuration}).");
        }

        if (PollInterval <= TimeSpan.Zero || ShutdownTimeout < TimeSpan.Zero)
        {
            throw new ArgumentException("Poll interval must be positive and shutdown timeout not negative.");
        }
    }
}
