using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A run as the CLI prints it with <c>--output json</c> and the API returns it.</summary>
public sealed record RunView
{
    /// <summary>Gets the run id.</summary>
    [JsonPropertyName("run_id")]
    public required string RunId { get; init; }

    /// <summary>Gets the runbook (workflow) name.</summary>
    [JsonPropertyName("runbook")]
    public required string Runbook { get; init; }

    /// <summary>Gets the status: ready, running, waiting, completed, failed, cancelled or blocked (refused by a guard).</summary>
    [JsonPropertyName("status")]
    public required string Status { get; init; }

    /// <summary>Gets who started it (<c>user:alice</c>, <c>alert:alertmanager/DiskFull</c>).</summary>
    [JsonPropertyName("started_by")]
    public required string StartedBy { get; init; }

    /// <summary>Gets when it was created.</summary>
    [JsonPropertyName("created_at")]
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets when it ended.</summary>
    [JsonPropertyName("completed_at")]
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>Gets a value indicating whether it is a dry-run.</summary>
    [JsonPropertyName("dry_run")]
    public bool DryRun { get; init; }

    /// <summary>Gets its inputs (secret references, never secret values).</summary>
    [JsonPropertyName("inputs")]
    public JsonNode? Inputs { get; init; }

    /// <summary>Gets its outputs once completed.</summary>
    [JsonPropertyName("output")]
    public JsonNode? Output { get; init; }

    /// <summary>Gets the kind of error it failed with.</summary>
    [JsonPropertyName("error_kind")]
    public string? ErrorKind { get; init; }

    /// <summary>Gets the error it failed with.</summary>
    [JsonPropertyName("error")]
    public string? Error { get; init; }

    /// <summary>Gets the hash of the pinned definition.</summary>
    [JsonPropertyName("definition_hash")]
    public required string DefinitionHash { get; init; }

    /// <summary>Gets the game-day drill the run belongs to (started by <c>runbook drill run --live</c>), or null for a real run.</summary>
    [JsonPropertyName("drill")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Drill { get; init; }

    /// <summary>Gets a value indicating whether the run has ended.</summary>
    [JsonIgnore]
    public bool IsTerminal => Status is "completed" or "failed" or "cancelled" or "blocked";
}

/// <summary>One checkpointed step of a run.</summary>
/// <param name="Seq">Its position.</param>
/// <param name="Name">Its name.</param>
/// <param name="Kind">activity, sleep, signal, ...</param>
/// <param name="Status">Its status.</param>
/// <param name="Attempt">Its attempt.</param>
/// <param name="ErrorKind">The error kind.</param>
/// <param name="Error">The error.</param>
/// <param name="Output">The output.</param>
/// <param name="Activity">The activity an action step called (<c>action:shell</c>, <c>plan:http</c>), or null.</param>
/// <param name="Input">What it was called with (<c>{ step, with }</c>, secret references unresolved), or null.</param>
public sealed record StepView(
    [property: JsonPropertyName("seq")] int Seq,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("attempt")] int Attempt,
    [property: JsonPropertyName("error_kind")] string? ErrorKind,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("output")] JsonNode? Output,
    [property: JsonPropertyName("activity")] string? Activity = null,
    [property: JsonPropertyName("input")] JsonNode? Input = null);

/// <summary>One line of a dry-run's plan.</summary>
/// <param name="Step">The step id.</param>
/// <param name="Plan">What it would do.</param>
public sealed record PlanLine([property: JsonPropertyName("step")] string Step, [property: JsonPropertyName("plan")] string Plan);

/// <summary>A run with its steps, what it waits for and, for a dry-run, its plan.</summary>
/// <param name="Run">The run.</param>
/// <param name="Steps">Its steps.</param>
/// <param name="WaitingFor">What it waits for, readable.</param>
/// <param name="Plan">The plan of a dry-run, else empty.</param>
public sealed record RunDetail(
    [property: JsonPropertyName("run")] RunView Run,
    [property: JsonPropertyName("steps")] IReadOnlyList<StepView> Steps,
    [property: JsonPropertyName("waiting_for")] string? WaitingFor,
    [property: JsonPropertyName("plan")] IReadOnlyList<PlanLine> Plan);

/// <summary>One timeline event.</summary>
/// <param name="Seq">Its sequence number in the run.</param>
/// <param name="At">When.</param>
/// <param name="Actor">Who.</param>
/// <param name="Kind">What kind of event.</param>
/// <param name="Data">Its data.</param>
/// <param name="Hash">Its hash in the chain.</param>
public sealed record EventView(
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("actor")] string Actor,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("data")] JsonNode? Data,
    [property: JsonPropertyName("hash")] string Hash);

/// <summary>A run's timeline and whether its hash chain is intact.</summary>
/// <param name="RunId">The run.</param>
/// <param name="ChainIntact">Whether the chain verifies (only meaningful when read from the start).</param>
/// <param name="ChainProblem">Where and how it is broken.</param>
/// <param name="Events">The events.</param>
public sealed record TimelineView(
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("chain_intact")] bool ChainIntact,
    [property: JsonPropertyName("chain_problem")] string? ChainProblem,
    [property: JsonPropertyName("events")] IReadOnlyList<EventView> Events);

/// <summary>A run that was started, or found by its idempotency key.</summary>
/// <param name="Run">The run.</param>
/// <param name="Created">False when an existing run was returned.</param>
public sealed record StartedRun([property: JsonPropertyName("run")] RunView Run, [property: JsonPropertyName("created")] bool Created);

/// <summary>The outcome of an approve or reject.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Step">The approval step.</param>
/// <param name="Decision">approve or reject.</param>
/// <param name="By">Who decided.</param>
/// <param name="Accepted">Whether the decision counts (the workflow records refused ones too).</param>
/// <param name="Reason">Why it was refused.</param>
public sealed record DecisionResult(
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("step")] string Step,
    [property: JsonPropertyName("decision")] string Decision,
    [property: JsonPropertyName("by")] string By,
    [property: JsonPropertyName("accepted")] bool Accepted,
    [property: JsonPropertyName("reason")] string? Reason);

/// <summary>The outcome of a cancel request.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Outcome">Requested, AlreadyRequested, RunFinished or NotFound.</param>
/// <param name="Status">The run's status when asked.</param>
public sealed record CancelResult(
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("status")] string Status);

/// <summary>A runbook found in the runbook directories.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Description">Its description.</param>
/// <param name="File">Its file.</param>
/// <param name="Valid">Whether it is valid.</param>
/// <param name="Problems">How many problems it has.</param>
/// <param name="Inputs">Its input names.</param>
public sealed record RunbookInfo(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("valid")] bool Valid,
    [property: JsonPropertyName("problems")] int Problems,
    [property: JsonPropertyName("inputs")] IReadOnlyList<string> Inputs);

/// <summary>One problem, located.</summary>
/// <param name="File">The file.</param>
/// <param name="Line">The line (1-based).</param>
/// <param name="Column">The column (1-based).</param>
/// <param name="Message">What is wrong.</param>
/// <param name="Severity"><c>error</c> (the runbook is invalid) or <c>warning</c> (it is valid and runs).</param>
public sealed record ProblemView(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("line")] int Line,
    [property: JsonPropertyName("column")] int Column,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("severity")] string Severity = "error")
{
    /// <inheritdoc/>
    public override string ToString() => Severity == "warning" ? $"{File}:{Line}:{Column}: warning: {Message}" : $"{File}:{Line}:{Column}: {Message}";
}

/// <summary>The validation of one runbook source.</summary>
/// <param name="File">The file.</param>
/// <param name="Name">The runbook's name, when valid.</param>
/// <param name="Valid">Whether it is valid.</param>
/// <param name="Problems">Its problems.</param>
public sealed record ValidationReport(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("valid")] bool Valid,
    [property: JsonPropertyName("problems")] IReadOnlyList<ProblemView> Problems);

/// <summary>A runbook's text, to validate.</summary>
/// <param name="File">The file name it is reported under.</param>
/// <param name="Source">Its content.</param>
public sealed record RunbookSource([property: JsonPropertyName("file")] string File, [property: JsonPropertyName("source")] string Source);

/// <summary>A request to start a run.</summary>
public sealed record StartRequest
{
    /// <summary>Gets the runbook name (or, only in embedded mode, a file path).</summary>
    [JsonPropertyName("runbook")]
    public required string Runbook { get; init; }

    /// <summary>Gets the inputs as text, converted to their declared types.</summary>
    [JsonPropertyName("inputs")]
    public IReadOnlyDictionary<string, string> Inputs { get; init; } = new Dictionary<string, string>();

    /// <summary>Gets a value indicating whether only plans are made.</summary>
    [JsonPropertyName("dry_run")]
    public bool DryRun { get; init; }

    /// <summary>Gets a key that makes starting idempotent.</summary>
    [JsonPropertyName("idempotency_key")]
    public string? IdempotencyKey { get; init; }

    /// <summary>Gets the game-day drill the run belongs to, or null for a real run.</summary>
    [JsonPropertyName("drill")]
    public string? Drill { get; init; }
}

/// <summary>Who calls: the actor recorded in the timeline, and their groups (for approval rules).</summary>
/// <param name="Actor">The actor, e.g. <c>user:alice</c>.</param>
/// <param name="Groups">The groups.</param>
public sealed record Caller(string Actor, IReadOnlyList<string> Groups);

/// <summary>
/// An alert that was accepted but started no run (no trigger matched, the trigger's inputs were invalid, or it
/// resolved with no run), kept in the store's journal: <c>runbook alerts</c>, <c>GET /api/alerts</c>.
/// </summary>
/// <param name="Id">Its position in the journal (newest first; page with <c>before</c>).</param>
/// <param name="At">When it was received.</param>
/// <param name="Source">Its source.</param>
/// <param name="Outcome">unmatched, invalid or no_run.</param>
/// <param name="Alert">Its name.</param>
/// <param name="Fingerprint">Its fingerprint.</param>
/// <param name="Status">firing or resolved.</param>
/// <param name="Runbook">The runbook whose trigger matched, for invalid and no_run.</param>
/// <param name="Reason">Why it started nothing, for invalid.</param>
/// <param name="Labels">Its labels.</param>
public sealed record ReceivedAlertView(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("outcome")] string Outcome,
    [property: JsonPropertyName("alert")] string Alert,
    [property: JsonPropertyName("fingerprint")] string? Fingerprint,
    [property: JsonPropertyName("status")] string? Status,
    [property: JsonPropertyName("runbook")] string? Runbook,
    [property: JsonPropertyName("reason")] string? Reason,
    [property: JsonPropertyName("labels")] JsonObject? Labels);

/// <summary>A guard key's state, as <c>runbook guards</c> prints it and <c>GET /api/guards</c> returns it.</summary>
public sealed record GuardView
{
    /// <summary>Gets the key: the runbook, and its target when the guard declares one (<c>restart-service/web-1</c>).</summary>
    [JsonPropertyName("key")]
    public required string Key { get; init; }

    /// <summary>Gets the runbook.</summary>
    [JsonPropertyName("runbook")]
    public required string Runbook { get; init; }

    /// <summary>Gets the target, if the guard declares one.</summary>
    [JsonPropertyName("target")]
    public string? Target { get; init; }

    /// <summary>Gets a value indicating whether the runbook still declares guards (false: shown as stored, not evaluated).</summary>
    [JsonPropertyName("declared")]
    public bool Declared { get; init; }

    /// <summary>Gets the breaker: closed, open, half-open, or none when the guard has no breaker.</summary>
    [JsonPropertyName("breaker")]
    public string? Breaker { get; init; }

    /// <summary>Gets when an open breaker lets a trial run start.</summary>
    [JsonPropertyName("open_until")]
    public DateTimeOffset? OpenUntil { get; init; }

    /// <summary>Gets the live trial run of a half-open breaker.</summary>
    [JsonPropertyName("trial_run")]
    public string? TrialRun { get; init; }

    /// <summary>Gets the failed runs counted in the breaker's window.</summary>
    [JsonPropertyName("recent_failures")]
    public int RecentFailures { get; init; }

    /// <summary>Gets when the cooldown ends, while it lasts.</summary>
    [JsonPropertyName("cooldown_until")]
    public DateTimeOffset? CooldownUntil { get; init; }

    /// <summary>Gets the runs started within the rate window.</summary>
    [JsonPropertyName("recent_runs")]
    public int RecentRuns { get; init; }

    /// <summary>Gets the rate limit's maximum, if declared.</summary>
    [JsonPropertyName("rate_max")]
    public int? RateMax { get; init; }

    /// <summary>Gets the most live runs allowed (0: no limit).</summary>
    [JsonPropertyName("max_live")]
    public int MaxLive { get; init; }

    /// <summary>Gets the live runs.</summary>
    [JsonPropertyName("live_runs")]
    public IReadOnlyList<string> LiveRuns { get; init; } = [];

    /// <summary>Gets the last reset.</summary>
    [JsonPropertyName("last_reset")]
    public GuardResetView? LastReset { get; init; }

    /// <summary>Gets when a decision or reset last changed it.</summary>
    [JsonPropertyName("updated_at")]
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>A recorded guard reset.</summary>
/// <param name="At">When.</param>
/// <param name="By">Who.</param>
/// <param name="Reason">Why.</param>
public sealed record GuardResetView(
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("by")] string By,
    [property: JsonPropertyName("reason")] string Reason);
