using System.Text.Json.Nodes;

namespace RunbookEngine.Runbooks.Model;

/// <summary>The type of a runbook input.</summary>
public enum InputType
{
    /// <summary>Text.</summary>
    String,

    /// <summary>A number.</summary>
    Number,

    /// <summary>true or false.</summary>
    Boolean,

    /// <summary>One of a fixed set of strings (<c>values:</c>).</summary>
    Enum,

    /// <summary>A list of strings (comma-separated on the command line).</summary>
    List,
}

/// <summary>What a step is.</summary>
public enum StepType
{
    /// <summary>Runs an action.</summary>
    Action,

    /// <summary>Waits for approval.</summary>
    Approval,

    /// <summary>Sleeps (a durable timer).</summary>
    Sleep,

    /// <summary>Runs an action repeatedly until a condition on its result holds.</summary>
    WaitUntil,
}

/// <summary>What happens when a step fails for good.</summary>
public enum FailureMode
{
    /// <summary>The run fails (default).</summary>
    Abort,

    /// <summary>The step is marked failed and the run continues with the next step.</summary>
    Continue,

    /// <summary>The run continues at another step.</summary>
    Goto,
}

/// <summary>A declared input.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Type">Its type.</param>
/// <param name="Required">Whether it must be given (an input with a default never is).</param>
/// <param name="Default">Its default.</param>
/// <param name="Pattern">A regular expression a string must match.</param>
/// <param name="Values">The allowed values of an enum.</param>
/// <param name="Secret">Whether it is a secret: only a secret reference is accepted, resolved in the worker.</param>
/// <param name="Description">What it is.</param>
/// <param name="Location">Where it is declared.</param>
public sealed record RunbookInput(string Name, InputType Type, bool Required, JsonNode? Default, string? Pattern, IReadOnlyList<string>? Values, bool Secret, string? Description, SourceLocation Location);

/// <summary>A step's retry policy.</summary>
/// <param name="MaxAttempts">Attempts including the first.</param>
/// <param name="InitialInterval">The first back-off.</param>
/// <param name="Backoff">The back-off multiplier.</param>
/// <param name="MaxInterval">The largest back-off.</param>
/// <param name="NonRetryable">Error kinds that are not retried.</param>
public sealed record RetrySpec(int MaxAttempts, TimeSpan InitialInterval, double Backoff, TimeSpan MaxInterval, IReadOnlyList<string> NonRetryable);

/// <summary>An approval gate.</summary>
/// <param name="Approvers">Users (<c>alice</c>) or groups (<c>group:sre-oncall</c>) who may approve.</param>
/// <param name="Min">How many distinct approvals are needed.</param>
/// <param name="Timeout">How long to wait; null waits indefinitely.</param>
/// <param name="OnTimeout"><c>reject</c> (default) or <c>approve</c>.</param>
/// <param name="FourEyes">Whether the person who started the run is refused as approver (default true).</param>
/// <param name="Message">What the approver is asked.</param>
public sealed record ApprovalSpec(IReadOnlyList<string> Approvers, int Min, TimeSpan? Timeout, string OnTimeout, bool FourEyes, Template? Message);

/// <summary>The polling of a wait_until step.</summary>
/// <param name="Condition">The condition over <c>result</c>.</param>
/// <param name="Interval">The pause between polls.</param>
/// <param name="Timeout">How long to keep polling.</param>
public sealed record WaitUntilSpec(ExpressionTemplate Condition, TimeSpan Interval, TimeSpan Timeout);

/// <summary>A step's <c>verify:</c>: an action polled after the step's own action until a condition over its result holds.</summary>
/// <param name="Action">The action polled (usually read-only: prometheus, http GET).</param>
/// <param name="With">Its inputs.</param>
/// <param name="Condition">The condition over <c>result</c> (the polled action's result).</param>
/// <param name="Interval">The pause between polls.</param>
/// <param name="Timeout">How long to keep polling before the step fails with <c>VerifyFailed</c>.</param>
/// <param name="Location">Where it is declared.</param>
public sealed record VerifySpec(string Action, MapTemplate? With, ExpressionTemplate Condition, TimeSpan Interval, TimeSpan Timeout, SourceLocation Location);

/// <summary>What undoes a step when a later step fails the run (a saga's compensation).</summary>
/// <param name="Action">The action that undoes it.</param>
/// <param name="With">Its inputs; <c>result</c> is the compensated step's own result.</param>
/// <param name="Retry">Its retry policy.</param>
/// <param name="Timeout">The limit on one attempt.</param>
/// <param name="Location">Where it is.</param>
public sealed record CompensateSpec(string Action, MapTemplate? With, RetrySpec? Retry, TimeSpan? Timeout, SourceLocation Location);

/// <summary>Failure routing.</summary>
/// <param name="Mode">The mode.</param>
/// <param name="Target">The step to continue at, for goto.</param>
public sealed record FailureRoute(FailureMode Mode, string? Target)
{
    /// <summary>Gets the default: abort.</summary>
    public static FailureRoute Abort { get; } = new(FailureMode.Abort, null);
}

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

/// <summary>A parsed, valid runbook.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Description">What it does.</param>
/// <param name="Inputs">Its inputs.</param>
/// <param name="Steps">Its steps.</param>
/// <param name="Outputs">Its outputs.</param>
/// <param name="MaxLoops">How often a step may run in one run (goto loops); default 10.</param>
/// <param name="File">The file it came from.</param>
/// <param name="Source">Its YAML text, the content of its pinned definition.</param>
public sealed record Runbook(
    string Name,
    string? Description,
    IReadOnlyList<RunbookInput> Inputs,
    IReadOnlyList<RunbookStep> Steps,
    IReadOnlyList<(string Name, Template Value)> Outputs,
    int MaxLoops,
    string File,
    string Source)
{
    /// <summary>Gets the alerts that start this runbook.</summary>
    public IReadOnlyList<TriggerSpec> Triggers { get; init; } = [];

    /// <summary>Gets its guards, if it declares any.</summary>
    public GuardSpec? Guards { get; init; }

    /// <summary>Gets the language it is written in.</summary>
    public RunbookLanguage Language { get; init; } = RunbookLanguage.Yaml;

    /// <summary>
    /// Gets the files its <c>file:</c> inputs name (path relative to the runbook, text), read when it was loaded and
    /// pinned with it in every run's definition.
    /// </summary>
    public IReadOnlyDictionary<string, string> Files { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets the outputs a C# script runbook declares (name and description); it sets them with <c>Output(name, value)</c>.</summary>
    public IReadOnlyList<ScriptOutput> ScriptOutputs { get; init; } = [];
}

/// <summary>The language of a runbook.</summary>
public enum RunbookLanguage
{
    /// <summary>YAML steps (<c>.yaml</c>, <c>.yml</c>), interpreted.</summary>
    Yaml,

    /// <summary>A C# script (<c>.csx</c>), compiled with Roslyn.</summary>
    Script,
}

/// <summary>An output a script runbook declares.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Description">What it is.</param>
/// <param name="Location">Where it is declared.</param>
public sealed record ScriptOutput(string Name, string? Description, SourceLocation Location);
