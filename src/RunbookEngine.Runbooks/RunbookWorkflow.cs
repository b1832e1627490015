using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Expressions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks;

/// <summary>
/// Interprets a runbook on any engine (the interpreter sees only <see cref="IWorkflowContext"/>): every action is a durable step (inline, or an activity on the step's
/// queue), approvals are signal waits, sleeps are durable timers, and conditions, outputs and routing are
/// deterministic workflow code, so a run replays exactly.
/// </summary>
// Workflow code: every await keeps its continuation on the engine's scheduler (ConfigureAwait(true)), since
// Temporal runs workflows on a deterministic scheduler of its own and a continuation on the thread pool would
// leave it; on the kernel there is no context, so it costs nothing.
public sealed class RunbookWorkflow
{
    /// <summary>The signal name prefix of approval decisions: <c>approval:&lt;step id&gt;</c>.</summary>
    public const string ApprovalSignalPrefix = "approval:";

    private readonly Runbook runbook;
    private readonly ActionCatalog actions;

    /// <summary>Initializes a new instance of the <see cref="RunbookWorkflow"/> class.</summary>
    /// <param name="runbook">The runbook.</param>
    /// <param name="actions">The actions, for what the workflow decides about a call (inputs, side effect); they execute as activities.</param>
    public RunbookWorkflow(Runbook runbook, ActionCatalog actions)
    {
        ArgumentNullException.ThrowIfNull(runbook);
        ArgumentNullException.ThrowIfNull(actions);
        this.runbook = runbook;
        this.actions = actions;
    }

    /// <summary>Runs the runbook.</summary>
    /// <param name="ctx">The workflow context.</param>
    /// <returns>The runbook's outputs.</returns>
    public async Task<JsonNode?> RunAsync(IWorkflowContext ctx)
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
                await ctx.RecordAsync(id, "step.reused", new JsonObject { ["step"] = id, ["from_run"] = input.RetryOf, ["status"] = state.Status[id] }).ConfigureAwait(true);
            }
        }

        if (input.FromStep is null)
        {
            // Before the first step records anything: replayed exactly when a previous execution began it.
            Telemetry.SinceAlert(Telemetry.AlertToFirstStep, ctx, input, runbook.Name, ctx.IsReplaying);
        }

        var visits = new Dictionary<string, int>(StringComparer.Ordinal);
        var done = new List<Compensable>();
        try
        {
            await StepsAsync(ctx, state, index, visits, done).ConfigureAwait(true);
        }
        catch (Exception ex) when (ex is StepFailedException or StepException && done.Count > 0 && !state.DryRun && runbook.CompensateOn.HasFlag(CompensateOn.Failure))
        {
            // A runbook that compensates on cancel too finishes undoing even when it is cancelled meanwhile.
            await CompensateShieldedAsync(ctx, state, () => CompensateAsync(ctx, state, done, ex)).ConfigureAwait(true);
            throw;
        }
        catch (OperationCanceledException) when (ctx.CancellationToken.IsCancellationRequested && done.Count > 0 && !state.DryRun && CompensatesOnCancel(state))
        {
            await ctx.UncancellableAsync(() => CompensateAsync(ctx, state, done, failure: null)).ConfigureAwait(true);
            throw;
        }

        var outputs = new JsonObject();
        foreach (var (name, template) in runbook.Outputs)
        {
            outputs[name] = state.Render(template, result: null);
        }

        return outputs;
    }

    private async Task StepsAsync(IWorkflowContext ctx, RunState state, int index, Dictionary<string, int> visits, List<Compensable> done)
    {
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
                await RunStepAsync(ctx, state, step, position, done).ConfigureAwait(true);
                index++;
            }
            catch (StepFailedException failed)
            {
                state.Status[step.Id] = "failed";
                switch (step.OnFailure.Mode)
                {
                    case FailureMode.Continue:
                        await ctx.RecordAsync(position + "/on_failure", "step.failure_handled", new JsonObject { ["step"] = step.Id, ["route"] = "continue", ["error_kind"] = failed.ErrorKind }).ConfigureAwait(true);
                        index++;
                        break;
                    case FailureMode.Goto:
                        await ctx.RecordAsync(position + "/on_failure", "step.failure_handled", new JsonObject { ["step"] = step.Id, ["route"] = "goto", ["target"] = step.OnFailure.Target, ["error_kind"] = failed.ErrorKind }).ConfigureAwait(true);
                        index = runbook.Steps.ToList().FindIndex(s => s.Id == step.OnFailure.Target);
                        break;
                    default:
                        throw;
                }
            }
        }
    }

    /// <summary>
    /// Undoes the steps that succeeded, newest first, after a step failed the run: each compensation is a durable
    /// step of its own (<c>&lt;step&gt;/compensate</c>), recorded with its outcome. One that fails does not stop the
    /// others; the run still fails with the original error.
    /// </summary>
    private async Task CompensateAsync(IWorkflowContext ctx, RunState state, List<Compensable> done, Exception? failure)
    {
        var (failedStep, kind) = failure switch
        {
            StepFailedException f => (f.StepName, f.ErrorKind),
            StepException e => (null, e.Kind),
            _ => (null, "Cancelled"),
        };
        await ctx.RecordAsync("compensation", "compensation.started", new JsonObject
        {
            ["failed_step"] = failedStep,
            ["error_kind"] = kind,
            ["reason"] = failure is null ? "cancel" : "failure",
            ["steps"] = new JsonArray([.. Enumerable.Reverse(done).Select(d => JsonValue.Create(d.Position))]),
        }).ConfigureAwait(true);
        var failed = 0;
        foreach (var (step, position, result) in Enumerable.Reverse(done))
        {
            var spec = step.Compensate!;
            try
            {
                var undone = await ActionAsync(ctx, state, step, spec.Action, spec.With, StepOperations.OptionsOf(spec.Retry, spec.Timeout, null), step.Queue, $"{position}/compensate", result).ConfigureAwait(true);
                await ctx.RecordAsync($"{position}/compensated", "compensation.succeeded", new JsonObject { ["step"] = step.Id, ["action"] = spec.Action, ["result"] = undone?.DeepClone() }).ConfigureAwait(true);
            }
            catch (StepFailedException ex)
            {
                failed++;
                await ctx.RecordAsync($"{position}/compensate-failed", "compensation.failed", new JsonObject { ["step"] = step.Id, ["action"] = spec.Action, ["error_kind"] = ex.ErrorKind, ["error"] = ex.Message }).ConfigureAwait(true);
            }
        }

        await ctx.RecordAsync("compensation/done", "compensation.finished", new JsonObject { ["compensated"] = done.Count - failed, ["failed"] = failed }).ConfigureAwait(true);
    }

    private Task CompensateShieldedAsync(IWorkflowContext ctx, RunState state, Func<Task> compensate) =>
        CompensatesOnCancel(state) ? ctx.UncancellableAsync(compensate) : compensate();

    /// <summary>Whether a cancel undoes what the run did: the runbook says so, or the run is a live game day's (its stop conditions roll back).</summary>
    private bool CompensatesOnCancel(RunState state) =>
        runbook.CompensateOn.HasFlag(CompensateOn.Cancel) || state.Script?.CompensateOnCancel == true;

    private async Task RunStepAsync(IWorkflowContext ctx, RunState state, RunbookStep step, string position, List<Compensable> done)
    {
        if (step.When is { } when)
        {
            var verdict = state.Evaluate(when, result: null, step);
            if (verdict is Unknown)
            {
                await ctx.RecordAsync(position + "/when", "step.condition_unknown", new JsonObject { ["step"] = step.Id, ["condition"] = when.Text, ["note"] = "depends on a planned step; planned as if true" }).ConfigureAwait(true);
            }
            else if (!ExpressionEvaluator.IsTruthy(verdict))
            {
                state.Status[step.Id] = "skipped";
                await ctx.RecordAsync(position + "/skipped", "step.skipped", new JsonObject { ["step"] = step.Id, ["condition"] = when.Text }).ConfigureAwait(true);
                return;
            }
        }

        switch (step.Type)
        {
            case StepType.Action:
                var result = await ActionAsync(ctx, state, step, position).ConfigureAwait(true);
                state.SetOutputs(step, result);
                if (step.Verify is { } verify)
                {
                    await VerifyAsync(ctx, state, step, verify, position).ConfigureAwait(true);
                }

                if (step.Compensate is { } compensate)
                {
                    if (state.DryRun)
                    {
                        // Shown with the step, since a dry-run never fails: what would undo it.
                        await ActionAsync(ctx, state, step, compensate.Action, compensate.With, StepOperations.OptionsOf(null, null, null), null, $"{position}/compensate", result).ConfigureAwait(true);
                        await ctx.RecordAsync(position + "/compensate-planned", "compensation.planned", new JsonObject { ["step"] = step.Id, ["action"] = compensate.Action, ["summary"] = $"if a later step fails: would undo it with {compensate.Action}" }).ConfigureAwait(true);
                    }
                    else
                    {
                        done.Add(new Compensable(step, position, result));
                    }
                }

                break;
            case StepType.Sleep:
                await StepOperations.SleepAsync(ctx, step.Sleep!.Value, step.Id, position, state.DryRun).ConfigureAwait(true);
                break;
            case StepType.Approval:
                await ApproveAsync(ctx, state, step, position).ConfigureAwait(true);
                break;
            case StepType.WaitUntil:
                await WaitUntilAsync(ctx, state, step, position).ConfigureAwait(true);
                break;
        }

        state.Status[step.Id] = state.DryRun ? "planned" : "succeeded";
    }

    private Task<JsonNode?> ActionAsync(IWorkflowContext ctx, RunState state, RunbookStep step, string position) =>
        ActionAsync(ctx, state, step, step.Action!, step.With, StepOperations.OptionsOf(step.Retry, step.Timeout, step.TotalTimeout), step.Queue, position);

    private async Task<JsonNode?> ActionAsync(IWorkflowContext ctx, RunState state, RunbookStep step, string name, MapTemplate? template, StepOptions options, string? queue, string position, JsonNode? result = null)
    {
        var action = actions.TryGet(name, out var a) ? a : throw new StepFailedException(step.Id, 0, "UnknownAction", $"{step.Location}: action '{name}' is not available in this worker", 0);
        var with = template is null ? new JsonObject() : (JsonObject)state.Render(template, result, step)!;
        return await StepOperations.ActionAsync(ctx, action, with, step.Id, position, state.DryRun, options, queue, state.Gate, state.Script).ConfigureAwait(true);
    }

    /// <summary>Polls the step's verify action until its condition holds; the step fails with <c>VerifyFailed</c> if it never does.</summary>
    private async Task VerifyAsync(IWorkflowContext ctx, RunState state, RunbookStep step, VerifySpec verify, string position)
    {
        var summary = $"poll {verify.Action} every {Durations.Format(verify.Interval)} for up to {Durations.Format(verify.Timeout)} until {verify.Condition.Text}";
        var options = StepOperations.OptionsOf(null, null, null);
        if (state.DryRun)
        {
            await ActionAsync(ctx, state, step, verify.Action, verify.With, options, null, $"{position}/verify").ConfigureAwait(true);
            await ctx.RecordAsync(position + "/verify-planned", "verify.planned", new JsonObject { ["step"] = step.Id, ["condition"] = verify.Condition.Text, ["summary"] = "would then " + summary }).ConfigureAwait(true);
            return;
        }

        var deadline = ctx.UtcNow + verify.Timeout;
        for (var poll = 1; ; poll++)
        {
            var result = await ActionAsync(ctx, state, step, verify.Action, verify.With, options, null, $"{position}/verify#{poll}").ConfigureAwait(true);
            if (ExpressionEvaluator.IsTruthy(state.Evaluate(verify.Condition, result, step)))
            {
                var replayed = ctx.IsReplaying;
                await ctx.RecordAsync($"{position}/verified", "verify.passed", new JsonObject { ["step"] = step.Id, ["condition"] = verify.Condition.Text, ["polls"] = poll, ["result"] = result?.DeepClone() }).ConfigureAwait(true);
                Telemetry.SinceAlert(Telemetry.TimeToRecovery, ctx, state.Input, runbook.Name, replayed);
                return;
            }

            if (ctx.UtcNow + verify.Interval > deadline)
            {
                var message = $"{verify.Condition.Text} did not hold within {Durations.Format(verify.Timeout)} after the step ({poll} polls of {verify.Action})";
                await ctx.RecordAsync($"{position}/verify-failed", "verify.failed", new JsonObject { ["step"] = step.Id, ["condition"] = verify.Condition.Text, ["polls"] = poll, ["result"] = result?.DeepClone(), ["error"] = message }).ConfigureAwait(true);
                throw new StepFailedException(step.Id, 0, "VerifyFailed", message, 1); // the step's action ran once; the polls are in the message
            }

            await ctx.DelayAsync(verify.Interval, $"{position}/verify-interval#{poll}").ConfigureAwait(true);
        }
    }

    private static async Task ApproveAsync(IWorkflowContext ctx, RunState state, RunbookStep step, string position)
    {
        var spec = step.Approval!;
        var message = spec.Message is null ? null : ExpressionEvaluator.Stringify(RunbookValues.FromJson(state.Render(spec.Message, null)));
        await StepOperations.ApproveAsync(ctx, spec, message, step.Id, position, state.DryRun).ConfigureAwait(true);
        state.Gate?.Pass();
    }

    private async Task WaitUntilAsync(IWorkflowContext ctx, RunState state, RunbookStep step, string position)
    {
        var spec = step.WaitUntil!;
        if (state.DryRun)
        {
            await ActionAsync(ctx, state, step, position).ConfigureAwait(true);
            await ctx.RecordAsync(position + "/until", "wait.planned", new JsonObject { ["step"] = step.Id, ["condition"] = spec.Condition.Text, ["summary"] = $"would poll every {Durations.Format(spec.Interval)} for up to {Durations.Format(spec.Timeout)} until {spec.Condition.Text}" }).ConfigureAwait(true);
            state.SetOutputs(step, null);
            return;
        }

        var deadline = ctx.UtcNow + spec.Timeout;
        for (var poll = 1; ; poll++)
        {
            var result = await ActionAsync(ctx, state, step, $"{position}/poll#{poll}").ConfigureAwait(true);
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

            await ctx.DelayAsync(spec.Interval, $"{position}/interval#{poll}").ConfigureAwait(true);
        }
    }

    /// <summary>A step that succeeded and says how to undo it.</summary>
    private sealed record Compensable(RunbookStep Step, string Position, JsonNode? Result);
}
