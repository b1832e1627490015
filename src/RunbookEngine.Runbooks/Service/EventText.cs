using System.Text.Json.Nodes;

namespace RunbookEngine.Runbooks.Service;

/// <summary>One readable line per timeline event.</summary>
public static class EventText
{
    /// <summary>The line for one event, as the CLI and the web console show it.</summary>
    /// <param name="e">The event.</param>
    /// <returns>The line.</returns>
    public static string Describe(EventView e)
    {
        var d = e.Data as JsonObject ?? [];
        string S(string key) => d[key] switch
        {
            null => string.Empty,
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            var other => other.ToJsonString(),
        };

        var step = S("step");
        return e.Kind switch
        {
            "run.created" => $"{S("workflow")} started by {e.Actor}",
            "run.claimed" => $"picked up by {e.Actor}",
            "run.recovered" => $"recovered by {e.Actor} after {S("previous_owner")} stopped renewing its lease",
            "run.waiting" => $"waiting: {S("reason")}" + (S("until") is { Length: > 0 } u ? $" until {u}" : string.Empty),
            "run.completed" => "completed" + (d["output"] is JsonObject { Count: > 0 } o ? $": {o.ToJsonString()}" : string.Empty),
            "run.failed" => $"failed: {S("error_kind")}: {S("error")}",
            "run.cancel_requested" => $"cancel requested by {e.Actor}" + (S("reason") is { Length: > 0 } r ? $": {r}" : string.Empty),
            "run.cancelled" => "cancelled" + (S("reason") is { Length: > 0 } r2 ? $": {r2}" : string.Empty),
            "run.released" => $"released by {e.Actor} ({S("reason")})",
            "step.started" => $"{step} attempt {S("attempt")}",
            "step.output" => $"{step} wrote " + string.Join("; ", new[] { "errors", "warnings", "information", "verbose" }.Where(k => d[k] is JsonArray { Count: > 0 }).Select(k => $"{k}: {string.Join(" | ", d[k]!.AsArray().Select(x => x?.ToString()))}")),
            "step.completed" => $"{step} done" + (S("duration_ms") is { Length: > 0 } ms ? $" in {ms} ms" : string.Empty),
            "step.failed" => $"{step} attempt {S("attempt")} failed: {S("error_kind")}: {S("error")}" + (S("retry_at") is { Length: > 0 } ra ? $" (retry at {ra})" : string.Empty),
            "step.interrupted" => $"{step} attempt {S("attempt")} was interrupted",
            "step.scheduled" => $"{step} queued for a worker of queue '{S("queue")}'",
            "step.skipped" => $"{step} skipped: {S("condition")} is false",
            "step.condition_unknown" => $"{step}: {S("condition")} depends on a planned step",
            "step.failure_handled" => $"{step} failed ({S("error_kind")}); on_failure: {S("route")}" + (S("target") is { Length: > 0 } t ? $" to {t}" : string.Empty),
            "step.reused" => $"{step} reused from run {S("from_run")} ({S("status")})",
            "timer.started" => $"{step} sleeping until {S("until")}",
            "timer.fired" => $"{step} woke up",
            "wait.started" => $"{step} waiting for signal {S("signal")}",
            "wait.timed_out" => $"{step} timed out waiting for {S("signal")}",
            "signal.received" => $"signal {S("signal")} from {e.Actor}",
            "signal.consumed" => $"{step} received {S("signal")} from {S("sender")}",
            "approval.requested" => $"{step} needs {S("min")} approval(s) from {string.Join(", ", (d["approvers"] as JsonArray ?? []).Select(a => a?.ToString()))}; approve with: {S("approve_with")}",
            "approval.granted" => $"{step} approved by {S("by")} ({S("approvals")}/{S("needed")})" + (S("comment") is { Length: > 0 } c ? $": {c}" : string.Empty),
            "approval.refused" => $"{step}: decision by {S("by")} refused: {S("reason")}",
            "approval.rejected" => $"{step} rejected by {S("by")}" + (S("comment") is { Length: > 0 } c2 ? $": {c2}" : string.Empty),
            "approval.timed_out" => $"{step} approval timed out; outcome: {S("outcome")}",
            "approval.planned" or "sleep.planned" or "wait.planned" or "verify.planned" => $"{step}: {S("summary")}",
            "verify.passed" => $"{step} verified: {S("condition")} holds (poll {S("polls")})",
            "verify.failed" => $"{step} not verified: {S("error")}",
            "guard.allowed" => $"guard {S("key")}: {S("reason")}" + (d["enforced"]?.GetValue<bool>() == false ? " (dry-run: not counted)" : string.Empty),
            "guard.blocked" => $"guard {S("key")}: blocked: {S("reason")}" + (d["enforced"]?.GetValue<bool>() == false ? " (a live run would be blocked; the dry-run goes on)" : string.Empty),
            "lease.fenced" => $"a late write by {e.Actor} was refused: {S("error")}",
            _ => e.Data?.ToJsonString() ?? string.Empty,
        };
    }
}
