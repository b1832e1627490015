namespace RunbookEngine.Runbooks.Model;

/// <summary>A step.</summary>
/// <param name="Id">Its id, unique in the runbook.</param>
/// <param name="Description">What it does.</param>
/// <param name="Type">What it is.</param>
/// <param name="Action">The action name (action and wait_until steps).</param>
/// <param name="With">The action's inputs.</param>
/// <param name="Outputs">Named outputs computed from <c>result</c>.</param>
/// <param name="When">The condition to run it.</param>
/// <param name="Approval">The approval gate.</param>
/// <param name="Sleep">The sleep duration.</param>
/// <param name="WaitUntil">The polling.</param>
/// <param name="Retry">The retry policy.</param>
/// <param name="Timeout">The limit on one attempt.</param>
/// <param name="TotalTimeout">The limit on the whole step, retries included.</param>
/// <param name="OnFailure">What happens when it fails for good.</param>
/// <param name="Queue">The task queue whose workers execute its action.</param>
/// <param name="Location">Where it is.</param>
public sealed record RunbookStep(
    string Id,
    string? Description,
    StepType Type,
    string? Action,
    MapTemplate? With,
    IReadOnlyList<(string Name, Template Value)> Outputs,
    ExpressionTemplate? When,
    ApprovalSpec? Approval,
    TimeSpan? Sleep,
    WaitUntilSpec? WaitUntil,
    RetrySpec? Retry,
    TimeSpan? Timeout,
    TimeSpan? TotalTimeout,
    FailureRoute OnFailure,
    string? Queue,
    SourceLocation Location)
{
    /// <summary>Gets the condition that must hold after the step's action, if any.</summary>
    public VerifySpec? Verify { get; init; }

    /// <summary>Gets what undoes the step if a later step fails the run, if anything.</summary>
    public CompensateSpec? Compensate { get; init; }
}
