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

    /// <summary>
    /// Checks a string input written literally in a runbook (or the content of a <see cref="ParameterType.File"/>
    /// input) when the runbook is validated, e.g. parses a script. By default nothing is checked.
    /// </summary>
    /// <param name="parameter">The input's name.</param>
    /// <param name="text">Its text.</param>
    /// <returns>The problems, at lines and columns of <paramref name="text"/>.</returns>
    IReadOnlyList<InputProblem> CheckInput(string parameter, string text) => [];

    /// <summary>
    /// Checks which inputs a step gives together (say, exactly one of two), when the runbook is validated and before
    /// an execution. By default any combination of the <see cref="Parameters"/> with the required ones is accepted.
    /// </summary>
    /// <param name="given">The names of the inputs given.</param>
    /// <returns>The problem, or null.</returns>
    string? CheckKeys(IReadOnlyCollection<string> given) => null;

    /// <summary>
    /// What of an execution's (already redacted) result the run's timeline records as a <c>step.output</c> event,
    /// e.g. the warnings and errors a script wrote; null (the default) records nothing beyond the step's own events.
    /// </summary>
    /// <param name="result">The result the execution returned.</param>
    /// <returns>The event's data, or null.</returns>
    JsonObject? TimelineRecord(JsonObject result) => null;

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
