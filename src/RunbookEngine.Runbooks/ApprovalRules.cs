using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Runbooks;

/// <summary>Who may decide an approval. The workflow enforces it; the CLI checks it first to answer at once.</summary>
public static class ApprovalRules
{
    /// <summary>Why a decision is refused, or null when it counts.</summary>
    /// <param name="spec">The approval.</param>
    /// <param name="startedBy">Who started the run (<c>user:alice</c>).</param>
    /// <param name="who">Who decides (<c>user:bob</c>).</param>
    /// <param name="groups">The groups of the decider.</param>
    /// <param name="granted">Who approved already.</param>
    /// <returns>The reason for refusal, or null.</returns>
    public static string? Refusal(ApprovalSpec spec, string startedBy, string who, IReadOnlyCollection<string> groups, IReadOnlyCollection<string> granted)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(granted);
        var user = who.StartsWith("user:", StringComparison.Ordinal) ? who[5..] : who;
        if (spec.FourEyes && string.Equals(who, startedBy, StringComparison.Ordinal))
        {
            return $"four-eyes: {user} started this run and cannot decide its approval; another approver must";
        }

        var allowed = spec.Approvers.Any(a => a.StartsWith("group:", StringComparison.Ordinal)
            ? groups.Contains(a[6..], StringComparer.Ordinal)
            : string.Equals(a, user, StringComparison.Ordinal));
        if (!allowed)
        {
            return $"{user} is not an approver of this step (approvers: {string.Join(", ", spec.Approvers)}; groups of {user}: {(groups.Count == 0 ? "none" : string.Join(", ", groups))})";
        }

        return granted.Contains(who, StringComparer.Ordinal) ? $"{user} has already approved; {spec.Min} different approvers are needed" : null;
    }

    /// <summary>The approval a run asked for, from its <c>approval.requested</c> event.</summary>
    /// <param name="request">The event's data.</param>
    /// <returns>The approval's rules.</returns>
    public static ApprovalSpec? FromRequest(JsonNode? request)
    {
        if (request?["approvers"] is not JsonArray approvers)
        {
            return null;
        }

        return new ApprovalSpec(
            [.. approvers.Select(a => a?.GetValue<string>() ?? string.Empty)],
            request["min"]?.GetValue<int>() ?? 1,
            null,
            request["on_timeout"]?.GetValue<string>() ?? "reject",
            request["four_eyes"]?.GetValue<bool>() ?? true,
            null);
    }

    /// <summary>The approval step a run is waiting on now, from its history.</summary>
    /// <param name="history">The run's history.</param>
    /// <returns>The step id and the wait's deadline, or null when it waits for no approval.</returns>
    public static (string StepId, DateTimeOffset? Until)? Pending(RunHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        foreach (var row in history.Steps.Where(r => r.Kind == StepKind.Signal && r.Status == StepStatus.Waiting))
        {
            if (WorkflowJson.Parse(row.Input)?["signal"]?.GetValue<string>() is { } signal && signal.StartsWith(RunbookWorkflow.ApprovalSignalPrefix, StringComparison.Ordinal))
            {
                return (signal[RunbookWorkflow.ApprovalSignalPrefix.Length..], row.AvailableAt);
            }
        }

        return null;
    }
}
