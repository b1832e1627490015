namespace RunbookEngine.Workflows;

/// <summary>Text forms of <see cref="RunStatus"/> as stored and shown to users.</summary>
public static class RunStatusExtensions
{
    /// <summary>Returns the lower-case name stored in the database and shown by tools.</summary>
    /// <param name="status">The status.</param>
    /// <returns>The stored name, e.g. <c>waiting</c>.</returns>
    public static string ToStoredName(this RunStatus status) => status switch
    {
        RunStatus.Ready => "ready",
        RunStatus.Running => "running",
        RunStatus.Waiting => "waiting",
        RunStatus.Completed => "completed",
        RunStatus.Failed => "failed",
        RunStatus.Cancelled => "cancelled",
        RunStatus.Blocked => "blocked",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    /// <summary>Parses a stored status name.</summary>
    /// <param name="name">The stored name.</param>
    /// <returns>The status.</returns>
    public static RunStatus ParseStoredName(string name) => name switch
    {
        "ready" => RunStatus.Ready,
        "running" => RunStatus.Running,
        "waiting" => RunStatus.Waiting,
        "completed" => RunStatus.Completed,
        "failed" => RunStatus.Failed,
        "cancelled" => RunStatus.Cancelled,
        "blocked" => RunStatus.Blocked,
        _ => throw new FormatException($"Unknown run status '{name}'."),
    };

    /// <summary>Whether the status is final.</summary>
    /// <param name="status">The status.</param>
    /// <returns><see langword="true"/> for completed, failed, cancelled and blocked.</returns>
    public static bool IsTerminal(this RunStatus status) =>
        status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled or RunStatus.Blocked;
}
