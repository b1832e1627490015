using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>A decision a person takes in a drill when the run asks for an approval.</summary>
/// <param name="Step">The approval's step (an approval step's id, or <c>STEP/approval</c> for an alert's gate); null for the next one asked.</param>
/// <param name="Approve">Approve (true) or reject (false); null never answers.</param>
/// <param name="By">Who decides.</param>
/// <param name="Groups">The groups they are in.</param>
/// <param name="After">How long after the request they decide.</param>
/// <param name="Comment">Their comment.</param>
/// <param name="At">Where it is written.</param>
public sealed record DrillApproval(string? Step, bool? Approve, string By, IReadOnlyList<string> Groups, TimeSpan After, string? Comment, SourceLocation At)
{
    /// <summary>Gets the keys of an approval entry.</summary>
    public static readonly string[] Keys = ["step", "approve", "reject", "never", "groups", "after", "comment"];
}
