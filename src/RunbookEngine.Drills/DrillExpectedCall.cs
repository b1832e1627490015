using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>An action call a drill expects the run to make: a recorded run's call, by default with the same inputs.</summary>
/// <param name="Step">The step.</param>
/// <param name="Action">The action.</param>
/// <param name="With">The inputs it must be called with, or null for any.</param>
/// <param name="At">Where it is written.</param>
public sealed record DrillExpectedCall(string Step, string Action, JsonObject? With, SourceLocation At)
{
    /// <summary>Gets the keys of an expected call.</summary>
    public static readonly string[] Keys = ["step", "action", "with"];
}
