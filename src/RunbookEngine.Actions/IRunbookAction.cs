using System.Text.Json.Nodes;

namespace RunbookEngine.Actions;

/// <summary>
/// A remediation action. Adding one is adding one class that implements this interface with a public
/// parameterless constructor: <see cref="ActionCatalog"/> finds it.
/// </summary>
/// <remarks>
/// <see cref="PlanAsync"/> must have no side effect at all: dry-runs call only it. <see cref="ExecuteAsync"/>
/// fails by throwing (a <see cref="Workflows.StepException"/> with a kind, or any exception), returns the
/// <c>result</c> object that runbook expressions read, and must honour cancellation.
/// </remarks>
public interface IRunbookAction
{
    /// <summary>Gets the name used in runbooks (<c>action: shell</c>).</summary>
    string Name { get; }

    /// <summary>Gets a one-line description.</summary>
    string Description { get; }

    /// <summary>Gets the most an execution may change.</summary>
    SideEffect SideEffect { get; }

    /// <summary>
    /// What an execution with these inputs may change: by default <see cref="SideEffect"/>; an action whose
    /// inputs decide (an HTTP method, a Kubernetes verb) says so here. It must be a pure function of
    /// <paramref name="with"/> (secret references unresolved): a run decides its approval gates with it and replays them.
    /// </summary>
    /// <param name="with">The step's inputs.</param>
    /// <returns>The side-effect class.</returns>
    SideEffect Classify(JsonObject with) => SideEffect;

    /// <summary>Gets the keys accepted under <c>with:</c>.</summary>
    IReadOnlyList<ActionParameter> Parameters { get; }

    /// <summary>Gets the fields of the result object, for documentation.</summary>
    IReadOnlyList<string> ResultFields { get; }

    /// <summary>Describes what an execution would do, without doing it.</summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The plan.</returns>
    Task<ActionPlan> PlanAsync(ActionRequest request, CancellationToken cancellationToken);

    /// <summary>Does it.</summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The result object.</returns>
    Task<JsonObject> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken);
}
