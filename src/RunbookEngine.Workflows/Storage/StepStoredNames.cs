namespace RunbookEngine.Workflows.Storage;

/// <summary>Text forms of <see cref="StepKind"/> and <see cref="StepStatus"/> as every store keeps them.</summary>
public static class StepStoredNames
{
    /// <summary>Returns the lower-case stored name of a step kind.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>The stored name, e.g. <c>activity</c>.</returns>
    public static string ToStoredName(this StepKind kind) => kind switch
    {
        StepKind.Inline => "inline",
        StepKind.Activity => "activity",
        StepKind.Timer => "timer",
        StepKind.Signal => "signal",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>Returns the lower-case stored name of a step status.</summary>
    /// <param name="status">The status.</param>
    /// <returns>The stored name, e.g. <c>queued</c>.</returns>
    public static string ToStoredName(this StepStatus status) => status switch
    {
        StepStatus.Running => "running",
        StepStatus.Retrying => "retrying",
        StepStatus.Queued => "queued",
        StepStatus.Waiting => "waiting",
        StepStatus.Completed => "completed",
        StepStatus.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    /// <summary>Parses a stored step kind.</summary>
    /// <param name="name">The stored name.</param>
    /// <returns>The kind.</returns>
    public static StepKind ParseKind(string name) => name switch
    {
        "inline" => StepKind.Inline,
        "activity" => StepKind.Activity,
        "timer" => StepKind.Timer,
        "signal" => StepKind.Signal,
        _ => throw new FormatException($"Unknown step kind '{name}'."),
    };

    /// <summary>Parses a stored step status.</summary>
    /// <param name="name">The stored name.</param>
    /// <returns>The status.</returns>
    public static StepStatus ParseStatus(string name) => name switch
    {
        "running" => StepStatus.Running,
        "retrying" => StepStatus.Retrying,
        "queued" => StepStatus.Queued,
        "waiting" => StepStatus.Waiting,
        "completed" => StepStatus.Completed,
        "failed" => StepStatus.Failed,
        _ => throw new FormatException($"Unknown step status '{name}'."),
    };
}
