namespace RunbookEngine.Workflows.Storage;

/// <summary>The event kinds the kernel writes to a run's timeline (documented in docs/architecture.md).</summary>
public static class TimelineKinds
{
    /// <summary>The <c>run.created</c> event.</summary>
    public const string RunCreated = "run.created";
    /// <summary>The <c>run.claimed</c> event.</summary>
    public const string RunClaimed = "run.claimed";
    /// <summary>The <c>run.recovered</c> event.</summary>
    public const string RunRecovered = "run.recovered";
    /// <summary>The <c>run.waiting</c> event.</summary>
    public const string RunWaiting = "run.waiting";
    /// <summary>The <c>run.released</c> event.</summary>
    public const string RunReleased = "run.released";
    /// <summary>The <c>run.completed</c> event.</summary>
    public const string RunCompleted = "run.completed";
    /// <summary>The <c>run.failed</c> event.</summary>
    public const string RunFailed = "run.failed";
    /// <summary>The <c>run.cancel_requested</c> event.</summary>
    public const string RunCancelRequested = "run.cancel_requested";
    /// <summary>The <c>run.cancelled</c> event.</summary>
    public const string RunCancelled = "run.cancelled";
    /// <summary>The <c>step.started</c> event.</summary>
    public const string StepStarted = "step.started";
    /// <summary>The <c>step.interrupted</c> event.</summary>
    public const string StepInterrupted = "step.interrupted";
    /// <summary>The <c>step.progress</c> event: what an attempt saved of how far it got, for its next attempt.</summary>
    public const string StepProgress = "step.progress";
    /// <summary>The <c>step.completed</c> event.</summary>
    public const string StepCompleted = "step.completed";
    /// <summary>The <c>step.failed</c> event.</summary>
    public const string StepFailed = "step.failed";
    /// <summary>The <c>step.scheduled</c> event.</summary>
    public const string StepScheduled = "step.scheduled";
    /// <summary>The <c>timer.started</c> event.</summary>
    public const string TimerStarted = "timer.started";
    /// <summary>The <c>timer.fired</c> event.</summary>
    public const string TimerFired = "timer.fired";
    /// <summary>The <c>wait.started</c> event.</summary>
    public const string WaitStarted = "wait.started";
    /// <summary>The <c>wait.timed_out</c> event.</summary>
    public const string WaitTimedOut = "wait.timed_out";
    /// <summary>The <c>signal.received</c> event.</summary>
    public const string SignalReceived = "signal.received";
    /// <summary>The <c>signal.consumed</c> event.</summary>
    public const string SignalConsumed = "signal.consumed";
    /// <summary>The <c>lease.fenced</c> event.</summary>
    public const string LeaseFenced = "lease.fenced";
    /// <summary>The <c>guard.allowed</c> event: a guard let the run start.</summary>
    public const string GuardAllowed = "guard.allowed";
    /// <summary>The <c>guard.blocked</c> event: a guard refused the run, which is stored as blocked and never executes.</summary>
    public const string GuardBlocked = "guard.blocked";

    /// <summary>Whether a kind is one the kernel writes (and workflow code may therefore not record).</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>Whether it is reserved.</returns>
    public static bool IsKernelKind(string kind) =>
        typeof(TimelineKinds).GetFields().Any(f => f.IsLiteral && string.Equals((string?)f.GetValue(null), kind, StringComparison.Ordinal));
}
