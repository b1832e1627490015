using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Expressions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks;

/// <summary>
/// Interprets a runbook on the kernel: every action is a durable step (inline, or an activity on the step's
/// queue), approvals are signal waits, sleeps are durable timers, and conditions, outputs and routing are
/// deterministic workflow code, so a run replays exactly.
/// </summary>
public sealed class RunbookWorkflow
{
    /// <summary>The signal name prefix of approval decisions: <c>approval:&lt;step id&gt;</c>.</summary>
    public const string ApprovalSignalPrefix = "approval:";

    private readonly Runbook runbook;
    private readonly ActionCatalog actions;
    private readonly ILogger logger;

    /// <summary>Initializes a new instance of the <see cref="RunbookWorkflow"/> class.</summary>
    /// <param name="runbook">The runbook.</param>
    /// <param name="actions">The actions.</param>
    /// <param name="logger">The logger of action steps.</param>
    public RunbookWorkflow(Runbook runbook, ActionCatalog actions, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(runbook);
        ArgumentNullException.ThrowIfNull(actions);
        ArgumentNullException.ThrowIfNull(logger);
        this.runbook = runbook;
        this.actions = actions;
        this.logger = logger;
    }

    /// <summary>Runs the runbook.</summary>
    /// <param name="ctx">The workflow context.</param>
    /// <returns>The runbook's outputs.</returns>
    public async Task<JsonNode?> RunAsync(WorkflowContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var input = RunbookRunInput.FromJson(ctx.Input);
        var state = new RunState(ctx, input, runbook);
        var index = 0;
        if (input.FromStep is { } from)
        {
            index = Math.Max(0, runbook.Steps.ToList().FindIndex(s => s.Id == from));
            for (var i = 0; i < index; i++)
            {
                var reused = runbook.Steps[i];
                var id = reused.Id;
                var prior = input.Prior?[id];
                state.Status[id] = prior?["status"]?.GetValue<string>() ?? "skipped";

                // Outputs are recomputed from the recorded result, exactly as on replay.
                if (prior?["result"] is JsonObject recorded)
                {
                    state.SetOutputs(reused, recorded);
                }
                await ctx.RecordAsync(id, "step.reused", new JsonObject { ["step"] = id, ["from_run"] = input.RetryOf, ["status"] = state.Status[id] }).ConfigureAwait(false);
            }
        }

        var visits = new Dictionary<string, int>(StringComparer.Ordinal);
        while (index < runbook.Steps.Count)
        {
            var step = runbook.Steps[index];
            var visit = visits[step.Id] = visits.GetValueOrDefault(step.Id) + 1;
            if (visit > runbook.MaxLoops)
            {
                throw new StepException("LoopLimit", $"{step.Location}: step '{step.Id}' would run a {visit}th time in this run; max_loops is {runbook.MaxLoops}", nonRetryable: true);
            }

            var position = visit == 1 ? step.Id : $"{step.Id}#{visit}";
            try
            {
                await RunStepAsync(ctx, state, step, position).ConfigureAwait(false);
                index++;
            }
            catch (StepFailedException failed)
            {
                state.Status[step.Id] = "failed";
                switch (step.OnFailure.Mode)
                {
                    case FailureMode.Continue:
                        await ctx.RecordAsync(position + "/on_failure", "step.failure_handled", new JsonObject { ["step"] = step.Id, ["route"] = "continue", ["error_kind"] = failed.ErrorKind }).ConfigureAwait(false);
                        index++;
                        break;
                    case FailureMode.Goto:
                        await ctx.RecordAsync(position + "/on_failure", "step.failure_handled", new JsonObject { ["step"] = step.Id, ["route"] = "goto", ["target"] = step.OnFailure.Target, ["error_kind"] = failed.ErrorKind }).ConfigureAwait(false);
                        index = runbook.Steps.ToList().FindIndex(s => s.Id == step.OnFailure.Target);
                        break;
                    default:
                        throw;
                }
            }
        }

        var outputs = new JsonObject();
        foreach (var (name, template) in runbook.Outputs)
        {
            outputs[name] = state.Render(template, result: null);
        }

        return outputs;
    }

    private async Task RunStepAsync(WorkflowContext ctx, RunState state, RunbookStep step, string position)
    {
        if (step.When is { } when)
        {
            var verdict = state.Evaluate(when, result: null, step);
            if (verdict is Unknown)
            {
                await ctx.RecordAsync(position + "/when", "step.condition_unknown", new JsonObject { ["step"] = step.Id, ["condition"] = when.Text, ["note"] = "depends on a planned step; planned as if true" }).ConfigureAwait(false);
            }
            else if (!ExpressionEvaluator.IsTruthy(verdict))
            {
                state.Status[step.Id] = "skipped";
                await ctx.RecordAsync(position + "/skipped", "step.skipped", new JsonObject { ["step"] = step.Id, ["condition"] = when.Text }).ConfigureAwait(false);
                return;
            }
        }

        switch (step.Type)
        {
            case StepType.Action:
                var result = await ActionAsync(ctx, state, step, position).ConfigureAwait(false);
                state.SetOutputs(step, result);
                break;
            case StepType.Sleep when state.DryRun:
                await ctx.RecordAsync(position, "sleep.planned", new JsonObject { ["step"] = step.Id, ["duration"] = Durations.Format(step.Sleep!.Value), ["summary"] = $"would sleep {Durations.Format(step.Sleep.Value)}" }).ConfigureAwait(false);
                break;
            case StepType.Sleep:
                await ctx.DelayAsync(step.Sleep!.Value, position).ConfigureAwait(false);
                break;
            case StepType.Approval:
                await ApproveAsync(ctx, state, step, position).ConfigureAwait(false);
                break;
            case StepType.WaitUntil:
                await WaitUntilAsync(ctx, state, step, position).ConfigureAwait(false);
                break;
        }

        state.Status[step.Id] = state.DryRun ? "planned" : "succeeded";
    }

    private async Task<JsonNode?> ActionAsync(WorkflowContext ctx, RunState state, RunbookStep step, string position)
    {
        var action = actions.TryGet(step.Action!, out var a) ? a : throw new StepFailedException(step.Id, 0, "UnknownAction", $"{step.Location}: action '{step.Action}' is not available in this worker", 0);
        var with = step.With is null ? new JsonObject() : (JsonObject)state.Render(step.With, result: null)!;
        if (state.DryRun)
        {
            await ctx.StepAsync(
                position,
                sc => ActionRunner.PlanAsync(action, with, step.Id, sc, logger),
                new StepOptions { Retry = RetryPolicy.None }).ConfigureAwait(false);
            return null;
        }

        var options = OptionsOf(step);
        if (step.Queue is { } queue)
        {
            var input = new JsonObject { ["step"] = step.Id, ["with"] = with };
            return await ctx.ActivityAsync(position, RunbookActivities.ActivityName(action.Name), queue, input, options).ConfigureAwait(false);
        }

        return await ctx.StepAsync<JsonNode?>(
            position,
            async sc => await ActionRunner.ExecuteAsync(action, with, step.Id, sc, logger).ConfigureAwait(false),
            options).ConfigureAwait(false);
    }

    private async Task ApproveAsync(WorkflowContext ctx, RunState state, RunbookStep step, string position)
    {
        var spec = step.Approval!;
        var message = spec.Message is null ? null : ExpressionEvaluator.Stringify(RunbookValues.FromJson(state.Render(spec.Message, null)));
        var request = new JsonObject
        {
            ["step"] = step.Id,
            ["approvers"] = new JsonArray([.. spec.Approvers.Select(x => JsonValue.Create(x))]),
            ["min"] = spec.Min,
            ["four_eyes"] = spec.FourEyes,
            ["timeout"] = spec.Timeout is { } t ? Durations.Format(t) : null,
            ["on_timeout"] = spec.OnTimeout,
            ["message"] = message,
            ["approve_with"] = $"runbook approve {ctx.RunId} --step {step.Id}",
        };
        if (state.DryRun)
        {
            request["summary"] = $"would wait for {spec.Min} approval(s) from {string.Join(", ", spec.Approvers)}";
            await ctx.RecordAsync(position, "approval.planned", request).ConfigureAwait(false);
            return;
        }

        await ctx.RecordAsync(position, "approval.requested", request).ConfigureAwait(false);
        DateTimeOffset? deadline = spec.Timeout is { } timeout ? ctx.UtcNow + timeout : null;
        var granted = new List<string>();
        for (var k = 1; ; k++)
        {
            var remaining = deadline is { } d ? d - ctx.UtcNow : (TimeSpan?)null;
            var decision = remaining is { } r && r <= TimeSpan.Zero
                ? null
                : await ctx.WaitForSignalAsync(ApprovalSignalPrefix + step.Id, remaining, $"{position}/decision#{k}").ConfigureAwait(false);
            if (decision is null)
            {
                await ctx.RecordAsync($"{position}/timed_out", "approval.timed_out", new JsonObject { ["step"] = step.Id, ["outcome"] = spec.OnTimeout, ["approvals"] = granted.Count }).ConfigureAwait(false);
                if (spec.OnTimeout == "approve")
                {
                    return;
                }

                throw new StepFailedException(step.Id, 0, "ApprovalTimedOut", $"no decision on '{step.Id}' within {Durations.Format(spec.Timeout!.Value)}; on_timeout is reject", 0);
            }

            var who = decision.Sender;
            var verdict = decision.Payload?["decision"]?.GetValue<string>();
            var comment = decision.Payload?["comment"]?.GetValue<string>();
            var groups = (decision.Payload?["groups"] as JsonArray)?.Select(g => g?.GetValue<string>() ?? string.Empty).ToList() ?? [];
            var refusal = ApprovalRules.Refusal(spec, ctx.StartedBy, who, groups, granted);
            if (refusal is not null)
            {
                await ctx.RecordAsync($"{position}/refused#{k}", "approval.refused", new JsonObject { ["step"] = step.Id, ["by"] = who, ["decision"] = verdict, ["reason"] = refusal }).ConfigureAwait(false);
                continue;
            }

            if (verdict == "reject")
            {
                await ctx.RecordAsync($"{position}/rejected", "approval.rejected", new JsonObject { ["step"] = step.Id, ["by"] = who, ["comment"] = comment }).ConfigureAwait(false);
                throw new StepFailedException(step.Id, 0, "Rejected", $"'{step.Id}' was rejected by {who}" + (comment is null ? string.Empty : $": {comment}"), 0);
            }

            granted.Add(who);
            await ctx.RecordAsync($"{position}/granted#{k}", "approval.granted", new JsonObject { ["step"] = step.Id, ["by"] = who, ["comment"] = comment, ["approvals"] = granted.Count, ["needed"] = spec.Min }).ConfigureAwait(false);
            if (granted.Count >= spec.Min)
            {
                return;
            }
        }
    }

    private async Task WaitUntilAsync(WorkflowContext ctx, RunState state, RunbookStep step, string position)
    {
        var spec = step.WaitUntil!;
        if (state.DryRun)
        {
            await ActionAsync(ctx, state, step, position).ConfigureAwait(false);
            await ctx.RecordAsync(position + "/until", "wait.planned", new JsonObject { ["step"] = step.Id, ["condition"] = spec.Condition.Text, ["summary"] = $"would poll every {Durations.Format(spec.Interval)} for up to {Durations.Format(spec.Timeout)} until {spec.Condition.Text}" }).ConfigureAwait(false);
            state.SetOutputs(step, null);
            return;
        }

        var deadline = ctx.UtcNow + spec.Timeout;
        for (var poll = 1; ; poll++)
        {
            var result = await ActionAsync(ctx, state, step, $"{position}/poll#{poll}").ConfigureAwait(false);
            var met = state.Evaluate(spec.Condition, result, step);
            if (ExpressionEvaluator.IsTruthy(met))
            {
                state.SetOutputs(step, result);
                return;
            }

            if (ctx.UtcNow + spec.Interval > deadline)
            {
                throw new StepFailedException(step.Id, 0, "WaitTimedOut", $"{spec.Condition.Text} did not hold within {Durations.Format(spec.Timeout)} ({poll} polls)", poll);
            }

            await ctx.DelayAsync(spec.Interval, $"{position}/interval#{poll}").ConfigureAwait(false);
        }
    }

    private static StepOptions OptionsOf(RunbookStep step) => new()
    {
        // Remediation is not retried unless the runbook says so: a second restart is not always harmless.
        Retry = step.Retry is { } r
            ? new RetryPolicy { MaximumAttempts = r.MaxAttempts, InitialInterval = r.InitialInterval, BackoffCoefficient = r.Backoff, MaximumInterval = r.MaxInterval, NonRetryableErrorKinds = r.NonRetryable }
            : RetryPolicy.None,
        AttemptTimeout = step.Timeout,
        StepTimeout = step.TotalTimeout,
    };
}
