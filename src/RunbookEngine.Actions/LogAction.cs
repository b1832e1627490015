using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace RunbookEngine.Actions;

/// <summary>Writes a message to the worker's log and the run's timeline (as the step's result).</summary>
public sealed class LogAction : IRunbookAction
{
    /// <inheritdoc/>
    public string Name => "log";

    /// <inheritdoc/>
    public string Description => "Record a message in the run (and the worker's log).";

    /// <inheritdoc/>
    public SideEffect SideEffect => SideEffect.ReadOnly;

    /// <inheritdoc/>
    public IReadOnlyList<ActionParameter> Parameters { get; } =
    [
        new("message", ParameterType.String, true, "The message; usually an interpolated template."),
        new("level", ParameterType.String, false, "info (default), warning or error.", ["info", "warning", "error"]),
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> ResultFields { get; } = ["message", "level"];

    /// <inheritdoc/>
    public Task<ActionPlan> PlanAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var message = With.RequiredString(request.With, "message", "log");
        return Task.FromResult(new ActionPlan(Name, "log", "run log", $"would log: {message}", SideEffect));
    }

    /// <inheritdoc/>
    public Task<JsonObject> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var message = With.RequiredString(request.With, "message", "log");
        var level = With.String(request.With, "level") ?? "info";
        var logLevel = level switch { "warning" => LogLevel.Warning, "error" => LogLevel.Error, _ => LogLevel.Information };
#pragma warning disable CA1848, CA2254 // The message is the user's runbook text, logged as is.
        request.Logger.Log(logLevel, "[{RunId}/{Step}] {Message}", request.RunId, request.StepId, message);
#pragma warning restore CA1848, CA2254
        return Task.FromResult(With.Object(("message", message), ("level", level)));
    }
}
