using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>An approval a run is waiting for, its rules, and whether the one asking may decide it.</summary>
/// <param name="Run">The run.</param>
/// <param name="Step">The approval's step id (a trigger gate's is <c>STEP/approval</c>).</param>
/// <param name="Message">What the runbook says to the approver, or null.</param>
/// <param name="Approvers">Who may approve: user names and <c>group:NAME</c>.</param>
/// <param name="Min">How many different approvers are needed.</param>
/// <param name="FourEyes">Whether the run's starter is refused.</param>
/// <param name="Until">The deadline, or null for none.</param>
/// <param name="OnTimeout">What happens at the deadline.</param>
/// <param name="GrantedBy">Who approved already.</param>
/// <param name="RequestedAt">When the run asked.</param>
/// <param name="Refusal">Why a decision by the one asking would be refused, or null when it would count.</param>
public sealed record ApprovalView(
    [property: JsonPropertyName("run")] RunView Run,
    [property: JsonPropertyName("step")] string Step,
    [property: JsonPropertyName("message")] string? Message,
    [property: JsonPropertyName("approvers")] IReadOnlyList<string> Approvers,
    [property: JsonPropertyName("min")] int Min,
    [property: JsonPropertyName("four_eyes")] bool FourEyes,
    [property: JsonPropertyName("until")] DateTimeOffset? Until,
    [property: JsonPropertyName("on_timeout")] string? OnTimeout,
    [property: JsonPropertyName("granted_by")] IReadOnlyList<string> GrantedBy,
    [property: JsonPropertyName("requested_at")] DateTimeOffset RequestedAt,
    [property: JsonPropertyName("refusal")] string? Refusal)
{
    /// <summary>Gets whether a decision by the one asking would count.</summary>
    [JsonPropertyName("may_decide")]
    public bool MayDecide => Refusal is null;
}
