using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions;

/// <summary>
/// Executes an action the way every caller must: secret references resolved just before, known secret values
/// redacted from the result and from error messages just after. Inline steps and task-queue workers both use it.
/// </summary>
public static class ActionRunner
{
    /// <summary>Executes an action for a step attempt.</summary>
    /// <param name="action">The action.</param>
    /// <param name="with">The evaluated inputs, with secret references still unresolved.</param>
    /// <param name="stepId">The runbook step id.</param>
    /// <param name="step">The kernel's step context (keys, attempt, cancellation).</param>
    /// <param name="logger">A logger.</param>
    /// <returns>The redacted result.</returns>
    public static async Task<JsonObject> ExecuteAsync(IRunbookAction action, JsonObject with, string stepId, IStepContext step, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(with);
        ArgumentNullException.ThrowIfNull(step);
        var revealed = new List<string>();
        var resolved = (JsonObject)Secrets.Resolve(with, revealed)!;
        var request = new ActionRequest(
            step.RunId,
            stepId,
            step.Attempt,
            step.IdempotencyKey,
            step.StepKey,
            resolved,
            revealed.Count == 0 ? logger : new RedactingLogger(logger, revealed),
            step.Progress,
            progress => step.SaveProgressAsync(Secrets.Redact(progress, revealed)!));
        try
        {
            var result = await action.ExecuteAsync(request, step.CancellationToken).ConfigureAwait(false);
            return (JsonObject)Secrets.Redact(result, revealed)!;
        }
        catch (StepException ex) when (revealed.Count > 0)
        {
            throw new StepException(ex.Kind, Secrets.RedactText(ex.Message, revealed), ex.NonRetryable);
        }
        catch (Exception ex) when (revealed.Count > 0 && ex is not OperationCanceledException)
        {
            throw new StepException(ex.GetType().Name, Secrets.RedactText(ex.Message, revealed));
        }
    }

    /// <summary>Plans an action: no secret is resolved and nothing is changed.</summary>
    /// <param name="action">The action.</param>
    /// <param name="with">The evaluated inputs.</param>
    /// <param name="stepId">The runbook step id.</param>
    /// <param name="step">The kernel's step context.</param>
    /// <param name="logger">A logger.</param>
    /// <returns>The plan.</returns>
    public static Task<ActionPlan> PlanAsync(IRunbookAction action, JsonObject with, string stepId, IStepContext step, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentNullException.ThrowIfNull(step);
        return action.PlanAsync(new ActionRequest(step.RunId, stepId, step.Attempt, step.IdempotencyKey, step.StepKey, with, logger), step.CancellationToken);
    }
}
