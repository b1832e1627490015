namespace RunbookEngine.Runbooks.Model;

/// <summary>A step's <c>verify:</c>: an action polled after the step's own action until a condition over its result holds.</summary>
/// <param name="Action">The action polled (usually read-only: prometheus, http GET).</param>
/// <param name="With">Its inputs.</param>
/// <param name="Condition">The condition over <c>result</c> (the polled action's result).</param>
/// <param name="Interval">The pause between polls.</param>
/// <param name="Timeout">How long to keep polling before the step fails with <c>VerifyFailed</c>.</param>
/// <param name="Location">Where it is declared.</param>
public sealed record VerifySpec(string Action, MapTemplate? With, ExpressionTemplate Condition, TimeSpan Interval, TimeSpan Timeout, SourceLocation Location);
