using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>A run a drill starts by hand, as an on-call engineer would from the CLI.</summary>
/// <param name="Inputs">The inputs.</param>
/// <param name="Actor">Who starts it.</param>
/// <param name="DryRun">Whether it only plans.</param>
/// <param name="At">When, from the drill's start.</param>
/// <param name="Location">Where it is written.</param>
public sealed record DrillRun(JsonObject Inputs, string Actor, bool DryRun, TimeSpan At, SourceLocation Location);
