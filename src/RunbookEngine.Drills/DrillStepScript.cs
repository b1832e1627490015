using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>How a step's calls are answered: its action's, its verify polls' and its compensation's.</summary>
/// <param name="Step">The step id.</param>
/// <param name="Calls">The answers to the step's action (every attempt and poll is a call), or null.</param>
/// <param name="Verify">The answers to its <c>verify:</c> polls, or null.</param>
/// <param name="Compensate">The answers to its <c>compensate:</c> action, or null.</param>
/// <param name="Plan">The plan a dry-run shows for it, or null for one made up from the step's inputs.</param>
/// <param name="At">Where it is written.</param>
public sealed record DrillStepScript(string Step, DrillAnswers? Calls, DrillAnswers? Verify, DrillAnswers? Compensate, JsonObject? Plan, SourceLocation At)
{
    /// <summary>Gets the keys of a step's entry.</summary>
    public static readonly string[] Keys = [.. DrillAnswer.Keys, "calls", "verify", "compensate", "plan"];
}
