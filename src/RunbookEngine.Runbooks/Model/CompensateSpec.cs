namespace RunbookEngine.Runbooks.Model;

/// <summary>What undoes a step when a later step fails the run (a saga's compensation).</summary>
/// <param name="Action">The action that undoes it.</param>
/// <param name="With">Its inputs; <c>result</c> is the compensated step's own result.</param>
/// <param name="Retry">Its retry policy.</param>
/// <param name="Timeout">The limit on one attempt.</param>
/// <param name="Location">Where it is.</param>
public sealed record CompensateSpec(string Action, MapTemplate? With, RetrySpec? Retry, TimeSpan? Timeout, SourceLocation Location);
