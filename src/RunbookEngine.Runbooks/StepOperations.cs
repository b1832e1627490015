using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks;

/// <summary>
/// What a step of any runbook does on any engine, shared by YAML runbooks and C# script runbooks so that an
/// action, an approval or a sleep behaves and is recorded the same way whichever language asked for it.
/// </summary>
// Workflow code: every await keeps its continuation on the engine's scheduler (ConfigureAwait(true)), since
// Temporal runs workflows on a deterministic scheduler of its own and a continuation on the thread pool would
// leave it; on the kernel there is no context, so it costs nothing.
internal static class StepOperations
{
    /// <summary>
    /// Runs an action as a durable step: a plan in a dry-run, else inline or as an activity on a queue; in a run
    /// an alert started, first through the run's approval gate when the call needs it.
    /// </summary>
    /// <remarks>
    /// In a live drill's run that answers this step from the drill's scenario (<paramref name="script"/>), the call
    /// goes to the drill's answer activity with the same retries and timeout, and the action itself never runs.
    /// </remarks>
    public static async Task<JsonNode?> ActionAsync(IWorkflowContext ctx, IRunbookAction action, JsonObject with, string stepId, string position, bool dryRun, StepOptions options, string? queue, RunGate? gate, DrillScript? script = null)
    {
        if (!dryRun && gate is not null)
        {
            await gate.BeforeAsync(ctx, action, with, stepId, position).ConfigureAwait(true);
        }

        // One shape wherever it runs: the action's activity by name, the step id and the rendered inputs as JSON.
        var input = new JsonObject { ["step"] = stepId, ["with"] = with };
        if (dryRun)
        {
            // Plans run in this worker: they read, never change, and a dry-run must not wait for another queue.
            await ctx.ActivityAsync(position, RunbookActivities.PlanActivityName(action.Name), null, input, new StepOptions { Retry = RetryPolicy.None }).ConfigureAwait(true);
            return null;
        }

        JsonNode? result;
        if (script is not null && !script.IsLive(stepId))
        {
            // Answered in the run's own worker: no target is reached, so no queue's worker is needed.
            var (answers, before) = script.Next(stepId, DrillScript.RoleOf(position), action.Name);
            input["action"] = action.Name;
            input["answers"] = answers?.DeepClone();
            input["calls_before"] = before;
            result = await ctx.ActivityAsync(position, RunbookActivities.DrillAnswerActivityName, null, input, options).ConfigureAwait(true);
        }
        else
        {
            result = await ctx.ActivityAsync(position, RunbookActivities.ActivityName(action.Name), queue, input, options).ConfigureAwait(true);
        }

        // Recorded from the step's recorded result, so a replay records the same event at the same place.
        if (result is JsonObject done && action.TimelineRecord(done) is { } record)
        {
            record["step"] = stepId;
            await ctx.RecordAsync(position + "/output", "step.output", record).ConfigureAwait(true);
        }

        return result;
    }

    /// <summary>Waits for the approvals a gate needs; records every request, refusal, decision and timeout.</summary>
    /// <exception cref="StepFailedException">Rejected, or timed out with <c>on_timeout: reject</c>.</exception>
    public static async Task ApproveAsync(IWorkflowContext ctx, ApprovalSpec spec, string? message, string stepId, string position, bool dryRun, string? gate = null)
    {
        var request = new JsonObject
        {
            ["step"] = stepId,
            ["approvers"] = new JsonArray([.. spec.Approvers.Select(x => JsonValue.Create(x))]),
            ["min"] = spec.Min,
            ["four_eyes"] = spec.FourEyes,
            ["timeout"] = spec.Timeout is { } t ? Durations.Format(t) : null,
            ["on_timeout"] = spec.OnTimeout,
            ["message"] = message,
            ["approve_with"] = $"runbook approve {ctx.RunId} --step {stepId}",
        };
        if (gate is not null)
        {
            request["gate"] = gate;
        }

        if (dryRun)
        {
            request["summary"] = $"would wait for {spec.Min} approval(s) from {string.Join(", ", spec.Approvers)}";
            await ctx.RecordAsync(position, "approval.planned", request).ConfigureAwait(true);
            return;
        }

        await ctx.RecordAsync(position, "approval.requested", request).ConfigureAwait(true);
        var requested = ctx.UtcNow;

        // Measured when the outcome's event is recorded live, not when a later execution replays it: whether it
        // replays is known just before the record (its position is then already in the history).
        void Waited(string outcome, bool replayed)
        {
            if (!replayed)
            {
                Telemetry.ApprovalWait.Record((ctx.UtcNow - requested).TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));
            }
        }

        DateTimeOffset? deadline = spec.Timeout is { } timeout ? ctx.UtcNow + timeout : null;
        var granted = new List<string>();
        for (var k = 1; ; k++)
        {
            var remaining = deadline is { } d ? d - ctx.UtcNow : (TimeSpan?)null;
            var decision = remaining is { } r && r <= TimeSpan.Zero
                ? null
                : await ctx.WaitForSignalAsync(RunbookWorkflow.ApprovalSignalPrefix + stepId, remaining, $"{position}/decision#{k}").ConfigureAwait(true);
            if (decision is null)
            {
                var replayedTimeout = ctx.IsReplaying;
                await ctx.RecordAsync($"{position}/timed_out", "approval.timed_out", new JsonObject { ["step"] = stepId, ["outcome"] = spec.OnTimeout, ["approvals"] = granted.Count }).ConfigureAwait(true);
                Waited("timed_out", replayedTimeout);
                if (spec.OnTimeout == "approve")
                {
                    return;
                }

                throw new StepFailedException(stepId, 0, "ApprovalTimedOut", $"no decision on '{stepId}' within {Durations.Format(spec.Timeout!.Value)}; on_timeout is reject", 0);
            }

            var who = decision.Sender;
            var verdict = decision.Payload?["decision"]?.GetValue<string>();
            var comment = decision.Payload?["comment"]?.GetValue<string>();
            var groups = (decision.Payload?["groups"] as JsonArray)?.Select(g => g?.GetValue<string>() ?? string.Empty).ToList() ?? [];

            // A decision sent before the run asked (`runbook approve RUN --step ID` ahead of time) holds for the gate's
            // timeout, or an hour: an old one was given for a situation that may no longer be the one at hand. The
            // sender marks it `ahead`, so a run that consumed an unmarked early decision before this rule replays as it ran.
            var early = decision.Payload?["ahead"] is JsonValue a && a.TryGetValue<bool>(out var isAhead) && isAhead ? requested - decision.ReceivedAt : TimeSpan.Zero;
            var window = spec.Timeout ?? EarlyDecisionWindow;
            var refusal = early > window
                ? $"decided {Durations.Format(early)} before the run asked; a decision sent ahead of time holds for {Durations.Format(window)} (the gate's timeout, else 1h): decide again"
                : ApprovalRules.Refusal(spec, ctx.StartedBy, who, groups, granted);
            if (refusal is not null)
            {
                await ctx.RecordAsync($"{position}/refused#{k}", "approval.refused", new JsonObject { ["step"] = stepId, ["by"] = who, ["decision"] = verdict, ["reason"] = refusal }).ConfigureAwait(true);
                continue;
            }

            if (verdict == "reject")
            {
                var replayedRejection = ctx.IsReplaying;
                await ctx.RecordAsync($"{position}/rejected", "approval.rejected", Early(new JsonObject { ["step"] = stepId, ["by"] = who, ["comment"] = comment }, early)).ConfigureAwait(true);
                Waited("rejected", replayedRejection);
                throw new StepFailedException(stepId, 0, "Rejected", $"'{stepId}' was rejected by {who}" + (comment is null ? string.Empty : $": {comment}"), 0);
            }

            granted.Add(who);
            var replayedGrant = ctx.IsReplaying;
            await ctx.RecordAsync($"{position}/granted#{k}", "approval.granted", Early(new JsonObject { ["step"] = stepId, ["by"] = who, ["comment"] = comment, ["approvals"] = granted.Count, ["needed"] = spec.Min }, early)).ConfigureAwait(true);
            if (granted.Count >= spec.Min)
            {
                Waited("approved", replayedGrant);
                return;
            }
        }
    }

    /// <summary>How long a decision sent before its approval was requested holds, for a gate without a timeout.</summary>
    public static readonly TimeSpan EarlyDecisionWindow = TimeSpan.FromHours(1);

    /// <summary>Marks a decision taken before the request with how much earlier (<c>decided_ahead</c>).</summary>
    private static JsonObject Early(JsonObject data, TimeSpan early)
    {
        if (early > TimeSpan.Zero)
        {
            data["decided_ahead"] = Durations.Format(early);
        }

        return data;
    }

    /// <summary>A durable timer, or its plan in a dry-run.</summary>
    public static async Task SleepAsync(IWorkflowContext ctx, TimeSpan duration, string stepId, string position, bool dryRun)
    {
        if (dryRun)
        {
            await ctx.RecordAsync(position, "sleep.planned", new JsonObject { ["step"] = stepId, ["duration"] = Durations.Format(duration), ["summary"] = $"would sleep {Durations.Format(duration)}" }).ConfigureAwait(true);
            return;
        }

        await ctx.DelayAsync(duration, position).ConfigureAwait(true);
    }

    /// <summary>The kernel options of a step's retry policy and timeouts.</summary>
    public static StepOptions OptionsOf(RetrySpec? retry, TimeSpan? timeout, TimeSpan? totalTimeout) => new()
    {
        // Remediation is not retried unless the runbook says so: a second restart is not always harmless.
        Retry = retry is { } r
            ? new RetryPolicy { MaximumAttempts = r.MaxAttempts, InitialInterval = r.InitialInterval, BackoffCoefficient = r.Backoff, MaximumInterval = r.MaxInterval, NonRetryableErrorKinds = r.NonRetryable }
            : RetryPolicy.None,
        AttemptTimeout = timeout,
        StepTimeout = totalTimeout,
    };
}
