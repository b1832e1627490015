namespace RunbookEngine.Runbooks.Model;

/// <summary>An approval gate.</summary>
/// <param name="Approvers">Users (<c>alice</c>) or groups (<c>group:sre-oncall</c>) who may approve.</param>
/// <param name="Min">How many distinct approvals are needed.</param>
/// <param name="Timeout">How long to wait; null waits indefinitely.</param>
/// <param name="OnTimeout"><c>reject</c> (default) or <c>approve</c>.</param>
/// <param name="FourEyes">Whether the person who started the run is refused as approver (default true).</param>
/// <param name="Message">What the approver is asked.</param>
public sealed record ApprovalSpec(IReadOnlyList<string> Approvers, int Min, TimeSpan? Timeout, string OnTimeout, bool FourEyes, Template? Message);
