using RunbookEngine.Runbooks.Model;

namespace RunbookEngine.Drills;

/// <summary>A game-day scenario: what happens (alerts, a run), how every target answers, who approves, and what must hold.</summary>
public sealed record Drill
{
    /// <summary>The root keys of a drill file.</summary>
    public static readonly string[] RootKeys = ["drill", "description", "runbook", "start", "horizon", "alerts", "run", "steps", "actions", "approvals", "faults", "live", "expect"];

    /// <summary>Gets the drill's name.</summary>
    public required string Name { get; init; }

    /// <summary>Gets the description.</summary>
    public string? Description { get; init; }

    /// <summary>Gets the drill file, as shown in messages.</summary>
    public required string File { get; init; }

    /// <summary>Gets the runbook as written: a path relative to the drill file, or a name in the runbook directories.</summary>
    public required string Runbook { get; init; }

    /// <summary>Gets where <see cref="Runbook"/> is written.</summary>
    public required SourceLocation RunbookAt { get; init; }

    /// <summary>Gets the virtual time the drill starts at; every time in the file counts from it.</summary>
    public DateTimeOffset Start { get; init; } = DefaultStart;

    /// <summary>Gets how much virtual time the drill may cover before it stops what is still going.</summary>
    public TimeSpan Horizon { get; init; } = TimeSpan.FromHours(24);

    /// <summary>Gets the alerts, in the order written.</summary>
    public IReadOnlyList<DrillAlert> Alerts { get; init; } = [];

    /// <summary>Gets the run started by hand, when the drill starts one instead of (or besides) alerts.</summary>
    public DrillRun? Run { get; init; }

    /// <summary>Gets how each step's calls are answered, by step id.</summary>
    public IReadOnlyDictionary<string, DrillStepScript> Steps { get; init; } = new Dictionary<string, DrillStepScript>(StringComparer.Ordinal);

    /// <summary>Gets how calls of an action are answered where the step says nothing, by action name.</summary>
    public IReadOnlyDictionary<string, DrillAnswers> Actions { get; init; } = new Dictionary<string, DrillAnswers>(StringComparer.Ordinal);

    /// <summary>Gets who decides the approvals the run asks for.</summary>
    public IReadOnlyList<DrillApproval> Approvals { get; init; } = [];

    /// <summary>Gets the engine faults the drill injects.</summary>
    public IReadOnlyList<DrillFault> Faults { get; init; } = [];

    /// <summary>Gets how the drill runs as a live game day (<c>--live</c>): stop conditions, poll, timeout.</summary>
    public DrillLive Live { get; init; } = DrillLive.Default;

    /// <summary>Gets what must hold.</summary>
    public required DrillExpectations Expect { get; init; }

    /// <summary>Gets the start of virtual time when a drill names none.</summary>
    public static DateTimeOffset DefaultStart { get; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
}
