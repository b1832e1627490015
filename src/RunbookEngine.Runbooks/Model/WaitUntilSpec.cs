namespace RunbookEngine.Runbooks.Model;

/// <summary>The polling of a wait_until step.</summary>
/// <param name="Condition">The condition over <c>result</c>.</param>
/// <param name="Interval">The pause between polls.</param>
/// <param name="Timeout">How long to keep polling.</param>
public sealed record WaitUntilSpec(ExpressionTemplate Condition, TimeSpan Interval, TimeSpan Timeout);
