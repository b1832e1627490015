using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using RunbookEngine.Runbooks.Service;
using RunbookEngine.Workflows;

namespace RunbookEngine.Drills;

/// <summary>
/// Turns a real run into a drill: its trigger (the alert, when it fired, repeated and resolved) or who started it with
/// which inputs, every action call's recorded outcome and duration, every approval decision, and expectations that
/// the replay does what the run did. Inputs and results are what the store kept: secret inputs are references and
/// results were redacted before they were stored, so nothing secret lands in the file.
/// </summary>
public static class DrillRecorder
{
    /// <summary>Writes the drill file of a run.</summary>
    /// <param name="detail">The run and its steps.</param>
    /// <param name="timeline">Its timeline.</param>
    /// <param name="runbook">How the drill names the runbook: a path relative to the drill file, or a name.</param>
    /// <param name="name">The drill's name; default the runbook's name and the run's date.</param>
    /// <returns>The drill's YAML and what it holds, in a few words.</returns>
    public static (string Yaml, string Summary) Record(RunDetail detail, TimelineView timeline, string runbook, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(detail);
        ArgumentNullException.ThrowIfNull(timeline);
        ArgumentNullException.ThrowIfNull(runbook);
        var run = detail.Run;
        var events = timeline.Events;
        var created = events.FirstOrDefault(e => e.Kind == "run.created");
        var trigger = created?.Data?["trigger"] as JsonObject;
        var alert = trigger?["alert"] as JsonObject;
        var firedAt = alert?["starts_at"] is JsonValue sv && sv.TryGetValue<DateTimeOffset>(out var fa) ? fa : (DateTimeOffset?)null;
        var start = firedAt is { } f && f <= run.CreatedAt ? f : run.CreatedAt;
        string Off(DateTimeOffset at) => Exact(at < start ? TimeSpan.Zero : at - start);

        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"# yaml-language-server: $schema=../schema/drill.schema.json\n");
        b.Append(CultureInfo.InvariantCulture, $"# Recorded from run {run.RunId} of {run.Runbook} (definition {run.DefinitionHash[..12]}) by `runbook drill record`.\n");
        b.Append(CultureInfo.InvariantCulture, $"# Replay: runbook drill run THIS-FILE. It expects what the run did: the same steps, calls, inputs and outcome.\n");
        b.Append(CultureInfo.InvariantCulture, $"drill: {Json(name ?? $"{run.Runbook}-{run.CreatedAt.UtcDateTime.ToString("yyyyMMdd-HHmm", CultureInfo.InvariantCulture)}")}\n");
        b.Append(CultureInfo.InvariantCulture, $"description: {Json($"Recorded from run {run.RunId}, started by {run.StartedBy} at {run.CreatedAt.UtcDateTime.ToString("u", CultureInfo.InvariantCulture)}; it ended {run.Status}{(run.ErrorKind is null ? string.Empty : $" ({run.ErrorKind})")}.")}\n");
        b.Append(CultureInfo.InvariantCulture, $"runbook: {Json(runbook)}\n");
        b.Append(CultureInfo.InvariantCulture, $"start: {start.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)}\n");

        if (alert is not null)
        {
            var labels = alert["labels"] as JsonObject ?? [];
            b.Append("alerts:\n");
            b.Append(CultureInfo.InvariantCulture, $"  - source: {Json(alert["source"]?.GetValue<string>() ?? "alertmanager")}\n");
            b.Append(CultureInfo.InvariantCulture, $"    labels: {labels.ToJsonString(Relaxed)}\n");
            if (alert["annotations"] is JsonObject { Count: > 0 } annotations)
            {
                b.Append(CultureInfo.InvariantCulture, $"    annotations: {annotations.ToJsonString(Relaxed)}\n");
            }

            b.Append(CultureInfo.InvariantCulture, $"    fired: {Off(start)}\n    received: {Off(run.CreatedAt)}\n");
            var repeats = events.Where(e => e.Kind == "alert.repeated").Select(e => Off(e.At)).ToList();
            if (repeats.Count > 0)
            {
                b.Append(CultureInfo.InvariantCulture, $"    repeat: [{string.Join(", ", repeats)}]\n");
            }

            if (events.FirstOrDefault(e => e.Kind == "alert.resolved") is { } resolved)
            {
                b.Append(CultureInfo.InvariantCulture, $"    resolved: {Off(resolved.At)}\n");
            }
        }
        else
        {
            b.Append(CultureInfo.InvariantCulture, $"run:\n  actor: {Json(run.StartedBy)}\n  inputs: {(run.Inputs as JsonObject ?? []).ToJsonString(Relaxed)}\n");
            if (run.DryRun)
            {
                b.Append("  dry_run: true\n");
            }
        }

        // Every attempt of every action call, in the order the run made them, with how long it took and how it ended.
        var bySeq = detail.Steps.ToDictionary(s => s.Seq);
        var answers = new List<(string Step, string Role, string Answer)>();
        var plans = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var expected = new List<string>();
        foreach (var started in events.Where(e => e.Kind == "step.started"))
        {
            var seq = started.Data?["seq"]?.GetValue<int>() ?? -1;
            var attempt = started.Data?["attempt"]?.GetValue<int>() ?? 1;
            if (!bySeq.TryGetValue(seq, out var step) || step.Activity is not { } activity || step.Input?["step"]?.GetValue<string>() is not { } stepId)
            {
                continue;
            }

            var with = step.Input?["with"] as JsonObject ?? [];
            var role = step.Name.Contains("/verify", StringComparison.Ordinal) ? "verify" : step.Name.Contains("/compensate", StringComparison.Ordinal) ? "compensate" : "action";
            var end = events.FirstOrDefault(e => e.Seq > started.Seq && e.Kind is "step.completed" or "step.failed" or "step.interrupted" && e.Data?["seq"]?.GetValue<int>() == seq && (e.Data?["attempt"]?.GetValue<int>() ?? attempt) == attempt);
            var latency = end is null ? string.Empty : $", latency: {Exact(end.At - started.At)}";
            if (activity.StartsWith("plan:", StringComparison.Ordinal))
            {
                if (step.Output is JsonObject plan)
                {
                    plans[stepId] = new JsonObject { ["summary"] = plan["summary"]?.DeepClone(), ["operation"] = plan["operation"]?.DeepClone(), ["target"] = plan["target"]?.DeepClone() };
                }

                continue;
            }

            var action = activity.StartsWith("action:", StringComparison.Ordinal) ? activity["action:".Length..] : activity;
            expected.Add($"    - {{ step: {stepId}, action: {action}, with: {with.ToJsonString(Relaxed)} }}");
            answers.Add((stepId, role, end?.Kind switch
            {
                "step.completed" => $"{{ respond: {(step.Status == "completed" && step.Output is JsonObject o ? o.ToJsonString(Relaxed) : "{}")}{latency} }}",
                "step.failed" => $"{{ fail: {{ kind: {Json(end.Data?["error_kind"]?.GetValue<string>() ?? "Failed")}, message: {Json(end.Data?["error"]?.GetValue<string>() ?? "failed")} }}{latency} }}",
                "step.interrupted" => $"{{ fail: {{ kind: Interrupted, message: {Json("the worker running this attempt died (recorded)")} }}{latency} }}",
                _ => "{ hang: true }",
            }));
        }

        var stepIds = answers.Select(a => a.Step).Concat(plans.Keys).Distinct(StringComparer.Ordinal).ToList();
        if (stepIds.Count > 0)
        {
            b.Append("steps:\n");
            foreach (var id in stepIds)
            {
                b.Append(CultureInfo.InvariantCulture, $"  {id}:\n");
                foreach (var role in new[] { "action", "verify", "compensate" })
                {
                    var mine = answers.Where(a => a.Step == id && a.Role == role).Select(a => a.Answer).ToList();
                    if (mine.Count > 0)
                    {
                        b.Append(CultureInfo.InvariantCulture, $"    {(role == "action" ? "calls" : role)}:\n");
                        foreach (var answer in mine)
                        {
                            b.Append(CultureInfo.InvariantCulture, $"      - {answer}\n");
                        }
                    }
                }

                if (plans.TryGetValue(id, out var plan))
                {
                    b.Append(CultureInfo.InvariantCulture, $"    plan: {plan.ToJsonString(Relaxed)}\n");
                }
            }
        }

        // Every decision: who, with which groups, how long after the request, with what comment.
        var approvals = new List<string>();
        foreach (var received in events.Where(e => e.Kind == "signal.received"))
        {
            var signal = received.Data?["signal"]?.GetValue<string>() ?? string.Empty;
            if (!signal.StartsWith("approval:", StringComparison.Ordinal))
            {
                continue;
            }

            var step = signal["approval:".Length..];
            var id = received.Data?["signal_id"]?.ToJsonString(Relaxed);
            var by = events.FirstOrDefault(e => e.Kind == "signal.consumed" && e.Data?["signal_id"]?.ToJsonString(Relaxed) == id)?.Data?["sender"]?.GetValue<string>() ?? received.Actor;
            var payload = received.Data?["payload"] as JsonObject;
            var requested = events.LastOrDefault(e => e.Kind == "approval.requested" && e.Seq < received.Seq && e.Data?["step"]?.GetValue<string>() == step);
            var verb = payload?["decision"]?.GetValue<string>() == "reject" ? "reject" : "approve";
            var groups = payload?["groups"] as JsonArray ?? [];
            var comment = payload?["comment"]?.GetValue<string>();
            approvals.Add($"  - {{ step: {Json(step)}, {verb}: {Json(by)}, groups: {groups.ToJsonString(Relaxed)}, after: {Exact(requested is null ? TimeSpan.Zero : received.At - requested.At)}{(comment is null ? string.Empty : $", comment: {Json(comment)}")} }}");
        }

        foreach (var timedOut in events.Where(e => e.Kind == "approval.timed_out"))
        {
            approvals.Add($"  - {{ step: {Json(timedOut.Data?["step"]?.GetValue<string>() ?? string.Empty)}, never: true }}");
        }

        if (approvals.Count > 0)
        {
            b.Append("approvals:\n");
            foreach (var a in approvals)
            {
                b.Append(a).Append('\n');
            }
        }

        // What the run did is what the replay must do.
        var ran = events.Where(e => e.Kind is not ("step.skipped" or "run.created" or "run.claimed" or "run.completed" or "run.failed" or "run.cancelled" or "run.waiting") && e.Data?["step"] is JsonValue)
            .Select(e => e.Data!["step"]!.GetValue<string>().Split('/', '#')[0]).Distinct(StringComparer.Ordinal).ToList();
        var skipped = events.Where(e => e.Kind == "step.skipped").Select(e => e.Data?["step"]?.GetValue<string>()).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        b.Append("expect:\n");
        b.Append(CultureInfo.InvariantCulture, $"  outcome: {run.Status}\n");
        if (run.ErrorKind is { } kind)
        {
            b.Append(CultureInfo.InvariantCulture, $"  error_kind: {Json(kind)}\n");
        }

        b.Append(CultureInfo.InvariantCulture, $"  steps_run: [{string.Join(", ", ran)}]\n");
        if (skipped.Count > 0)
        {
            b.Append(CultureInfo.InvariantCulture, $"  steps_skipped: [{string.Join(", ", skipped)}]\n");
        }

        if (firedAt is not null)
        {
            b.Append(CultureInfo.InvariantCulture, $"  mttd: {Ceiling(run.CreatedAt - start)}\n");
            var recovered = events.LastOrDefault(e => e.Kind == "verify.passed")?.At ?? (run is { Status: "completed", DryRun: false } ? run.CompletedAt : null);
            if (recovered is { } r)
            {
                b.Append(CultureInfo.InvariantCulture, $"  mttr: {Ceiling(r - start)}\n");
            }
        }

        b.Append("  calls:\n");
        foreach (var call in expected)
        {
            b.Append(call).Append('\n');
        }

        if (expected.Count == 0)
        {
            b.Length -= "  calls:\n".Length;
        }

        return (b.ToString(), $"{answers.Count} call(s), {approvals.Count} approval decision(s), {(alert is null ? "started by " + run.StartedBy : "triggered by " + (alert["labels"]?["alertname"]?.GetValue<string>() ?? "an alert"))}");
    }

    /// <summary>JSON that YAML reads as flow values, with no more escapes than needed (a YAML double-quoted string reads JSON's).</summary>
    private static readonly System.Text.Json.JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Json(string text) => JsonValue.Create(text).ToJsonString(Relaxed);

    /// <summary>A duration to the millisecond, as drill files write it (<c>1m30s250ms</c>).</summary>
    private static string Exact(TimeSpan t)
    {
        var ms = (long)Math.Round(t.TotalMilliseconds);
        if (ms <= 0)
        {
            return "0s";
        }

        var whole = TimeSpan.FromSeconds(ms / 1000);
        var rest = ms % 1000;
        return whole == TimeSpan.Zero ? $"{rest}ms" : Durations.Format(whole) + (rest == 0 ? string.Empty : $"{rest}ms");
    }

    private static string Ceiling(TimeSpan t) => Durations.Format(TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(t.TotalSeconds))));
}
