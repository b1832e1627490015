using RunbookEngine.Runbooks;
using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>A drill file read and checked together with the runbook it replays.</summary>
/// <param name="File">The drill file, as shown in messages.</param>
/// <param name="Drill">The drill, or null when the file is invalid.</param>
/// <param name="Runbook">The runbook, or null when it was not found or is invalid.</param>
/// <param name="Diagnostics">Every problem: the drill's, at its lines, and the runbook's, at the runbook's.</param>
public sealed record LoadedDrill(string File, Drill? Drill, RunbookEntry? Runbook, IReadOnlyList<RunbookDiagnostic> Diagnostics)
{
    /// <summary>Gets a value indicating whether the drill can run.</summary>
    public bool Valid => Drill is not null && Runbook?.Runbook is not null && Diagnostics.All(d => d.Warning);
}
