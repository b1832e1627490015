using System.Text.Json.Nodes;
using RunbookEngine.Actions;
using RunbookEngine.Workflows;

namespace RunbookEngine.CrashHost;

/// <summary>An action whose execution is a crash point of the test: it records each execution in the side file.</summary>
internal sealed class CrashPointAction(Func<ActionRequest, CancellationToken, Task> execute) : IRunbookAction
{
    /// <summary>The five steps of the 'crashy' workflow, as a C# script runbook.</summary>
    public const string Script = """
        /*---
        name: crashy-script
        description: five steps, each a crash point
        outputs:
          total: the sum of the step numbers
        ---*/
        var total = 0;
        for (var i = 1; i <= 5; i++)
        {
            var result = await Action($"s{i}", "crashpoint", new { n = i });
            total += result["n"]!.GetValue<int>();
        }

        Output("total", total);
        """;

    public string Name => "crashpoint";

    public string Description => "Records its execution; the crash tests kill the process around it.";

    public SideEffect SideEffect => SideEffect.Mutating;

    public IReadOnlyList<ActionParameter> Parameters { get; } = [new("n", ParameterType.Number, true, "The step number.")];

    public IReadOnlyList<string> ResultFields { get; } = ["n"];

    public Task<ActionPlan> PlanAsync(ActionRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(new ActionPlan(Name, "record", request.StepId, $"would record {request.StepId}", SideEffect));

    public async Task<JsonObject> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        await execute(request, cancellationToken);
        return new JsonObject { ["n"] = request.With["n"]!.GetValue<int>() };
    }
}

/// <summary>Resolves the registry's workflows and runbooks.</summary>
internal sealed class EitherResolver(IWorkflowResolver first, IWorkflowResolver second) : IWorkflowResolver
{
    public async ValueTask<WorkflowFunction?> ResolveAsync(WorkflowDefinition definition, CancellationToken cancellationToken) =>
        await first.ResolveAsync(definition, cancellationToken) ?? await second.ResolveAsync(definition, cancellationToken);
}
