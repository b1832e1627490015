using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>What a drill expects; each one set is checked and reported as passed or failed.</summary>
public sealed record DrillExpectations
{
    /// <summary>Gets the keys of <c>expect:</c>.</summary>
    public static readonly string[] Keys = ["outcome", "error_kind", "alert", "guard", "steps_run", "steps_skipped", "no_unapproved_destructive", "mttd", "mttr", "calls", "alert_outcomes", "attempts"];

    /// <summary>Gets the run's final status (completed, failed, cancelled, blocked), or null.</summary>
    public string? Outcome { get; init; }

    /// <summary>Gets the error kind a failed run ends with, or null.</summary>
    public string? ErrorKind { get; init; }

    /// <summary>Gets what the first alert's routing ends in (started, blocked, unmatched, invalid), or null.</summary>
    public string? Alert { get; init; }

    /// <summary>Gets what each alert notification's routing ends in, in the order delivered (fired, repeated, resolved), or null.</summary>
    public IReadOnlyList<string>? AlertOutcomes { get; init; }

    /// <summary>Gets the guard decision (allowed, blocked), or null.</summary>
    public string? Guard { get; init; }

    /// <summary>Gets the steps that must run, with where each is written.</summary>
    public IReadOnlyList<(string Step, SourceLocation At)> StepsRun { get; init; } = [];

    /// <summary>Gets the steps that must be skipped (their <c>when:</c> false), with where each is written.</summary>
    public IReadOnlyList<(string Step, SourceLocation At)> StepsSkipped { get; init; } = [];

    /// <summary>Gets a value indicating whether no destructive call may happen before an approval was granted (default true).</summary>
    public bool NoUnapprovedDestructive { get; init; } = true;

    /// <summary>Gets the most the time from the alert firing to the run starting may be, or null.</summary>
    public TimeSpan? Mttd { get; init; }

    /// <summary>Gets the most the time from the alert firing to recovery may be, or null.</summary>
    public TimeSpan? Mttr { get; init; }

    /// <summary>Gets the action calls the run must make, in order (a recorded drill's: any divergence fails it), or null.</summary>
    public IReadOnlyList<DrillExpectedCall>? Calls { get; init; }

    /// <summary>Gets how many times each step's action must be called (every attempt, a call cut short by a fault too), with where each is written.</summary>
    public IReadOnlyList<(string Step, int Count, SourceLocation At)> Attempts { get; init; } = [];

    /// <summary>Gets where the <c>expect:</c> block is written.</summary>
    public SourceLocation? At { get; init; }
}
