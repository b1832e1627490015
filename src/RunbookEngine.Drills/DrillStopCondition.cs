using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>A condition that stops a live drill, as AWS FIS stop conditions do: a PromQL expression that returns a series when it holds.</summary>
/// <param name="Name">Its name in reports (default: the expression).</param>
/// <param name="PromQL">The expression, e.g. <c>sum(rate(http_requests_total{code=~"5.."}[1m])) > 5</c>.</param>
/// <param name="At">Where it is written.</param>
public sealed record DrillStopCondition(string Name, string PromQL, SourceLocation At)
{
    /// <summary>Gets the keys of a stop condition.</summary>
    public static readonly string[] Keys = ["promql", "name"];
}
