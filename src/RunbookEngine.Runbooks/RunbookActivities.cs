using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RunbookEngine.Actions;
using RunbookEngine.Workflows;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Runbooks;

/// <summary>
/// Registers the actions as activities: every action step of a runbook is a call of one of them by name with a JSON
/// payload (<c>{ "step": id, "with": { ... } }</c>), run in the workflow's worker or on the queue a step names.
/// </summary>
public static class RunbookActivities
{
    /// <summary>The activity type that executes an action.</summary>
    /// <param name="action">The action name.</param>
    /// <returns><c>action:&lt;name&gt;</c>.</returns>
    public static string ActivityName(string action) => "action:" + action;

    /// <summary>The activity type that plans an action for a dry-run (resolves no secret, changes nothing).</summary>
    /// <param name="action">The action name.</param>
    /// <returns><c>plan:&lt;name&gt;</c>.</returns>
    public static string PlanActivityName(string action) => "plan:" + action;

    /// <summary>The activity type that answers a step of a live drill's run from the drill's scenario, in place of its action.</summary>
    public const string DrillAnswerActivityName = "drill:answer";

    /// <summary>Registers the execution and the plan of every action of the catalog, and the live drills' answers.</summary>
    /// <param name="registry">The activity registry.</param>
    /// <param name="actions">The actions.</param>
    /// <param name="logger">The logger of action steps.</param>
    /// <param name="time">The clock a drill's answer waits on (its latency); the system's by default.</param>
    /// <returns>The registry.</returns>
    public static ActivityRegistry AddRunbookActions(this ActivityRegistry registry, ActionCatalog actions, ILogger logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(actions);
        var clock = time ?? TimeProvider.System;
        registry.Add(DrillAnswerActivityName, sc => DrillAnswerAsync(sc, clock));
        foreach (var action in actions.All)
        {
            registry.Add(ActivityName(action.Name), async sc =>
            {
                var (stepId, with) = Payload(sc);
                return await ActionRunner.ExecuteAsync(action, with, stepId, sc, logger).ConfigureAwait(false);
            });
            registry.Add(PlanActivityName(action.Name), async sc =>
            {
                var (stepId, with) = Payload(sc);
                var plan = await ActionRunner.PlanAsync(action, with, stepId, sc, logger).ConfigureAwait(false);
                return JsonSerializer.SerializeToNode(plan, WorkflowJson.Options);
            });
        }

        return registry;
    }

    /// <summary>
    /// A live drill's answer to one call (an attempt counts as a call): it waits the answer's latency on the real
    /// clock, then responds, fails, or hangs until the step's timeout or a cancel ends it. A step the drill does not
    /// answer fails without being retried: it is never run for real in its place.
    /// </summary>
    private static async Task<JsonNode?> DrillAnswerAsync(IStepContext sc, TimeProvider time)
    {
        var (stepId, _) = Payload(sc);
        var action = sc.Input?["action"]?.GetValue<string>() ?? "?";
        if (sc.Input?["answers"] is not JsonArray { Count: > 0 } answers)
        {
            throw new StepException("DrillUnanswered", $"the live drill neither marks step '{stepId}' live nor answers it: add it to live.steps, or add steps.{stepId} or actions.{action} to the drill; the {action} action did not run", nonRetryable: true);
        }

        var answer = DrillScript.Pick(answers, (sc.Input?["calls_before"]?.GetValue<int>() ?? 0) + sc.Attempt - 1)!;
        sc.Logger.LogInformation("step {Step}: answered from the live drill's scenario in place of {Action}", stepId, action);
        if (answer["latency_ms"]?.GetValue<long>() is > 0 and var latency)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(latency), time, sc.CancellationToken).ConfigureAwait(false);
        }

        if (answer["hang"]?.GetValue<bool>() == true)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, time, sc.CancellationToken).ConfigureAwait(false);
        }

        if (answer["fail"]?.GetValue<string>() is { } kind)
        {
            throw new StepException(kind, answer["message"]?.GetValue<string>() ?? kind, answer["non_retryable"]?.GetValue<bool>() ?? false);
        }

        return answer["respond"]?.DeepClone() ?? new JsonObject();
    }

    /// <summary>The step id and rendered inputs an action step sends its activity: <c>{ "step": id, "with": { ... } }</c>.</summary>
    private static (string StepId, JsonObject With) Payload(IStepContext sc) =>
        (sc.Input?["step"]?.GetValue<string>() ?? sc.StepName, sc.Input?["with"] as JsonObject ?? []);
}

/// <summary>Builds the worker that executes runbook runs and serves runbook actions (CLI, server, worker processes).</summary>
public static class RunbookWorkers
{
    /// <summary>Creates a worker for runbook runs.</summary>
    /// <param name="store">The store.</param>
    /// <param name="actions">The actions.</param>
    /// <param name="options">The worker's options.</param>
    /// <param name="loggers">Loggers.</param>
    /// <returns>The worker.</returns>
    public static WorkflowWorker Create(IWorkflowStore store, ActionCatalog actions, WorkerOptions options, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(loggers);
        return new WorkflowWorker(
            store,
            new RunbookResolver(actions),
            options,
            new ActivityRegistry().AddRunbookActions(actions, loggers.CreateLogger("runbook.actions")),
            loggerFactory: loggers);
    }
}
