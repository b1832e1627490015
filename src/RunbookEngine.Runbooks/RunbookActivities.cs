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

    /// <summary>Registers the execution and the plan of every action of the catalog.</summary>
    /// <param name="registry">The activity registry.</param>
    /// <param name="actions">The actions.</param>
    /// <param name="logger">The logger of action steps.</param>
    /// <returns>The registry.</returns>
    public static ActivityRegistry AddRunbookActions(this ActivityRegistry registry, ActionCatalog actions, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(actions);
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
