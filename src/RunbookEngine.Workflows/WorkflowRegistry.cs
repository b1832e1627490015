using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunbookEngine.Workflows;

/// <summary>
/// Workflows written as code, registered by name and version. Also a resolver for the runs they start.
/// </summary>
/// <remarks>
/// A code workflow's definition content is its version label: change the label whenever a change to the
/// code would replay differently, and keep the old version registered while runs of it are in flight.
/// </remarks>
public sealed class WorkflowRegistry : IWorkflowResolver
{
    private readonly ConcurrentDictionary<string, (WorkflowDefinition Definition, WorkflowFunction Function)> byHash = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, WorkflowDefinition> latestByName = new(StringComparer.Ordinal);

    /// <summary>Registers a workflow function.</summary>
    /// <param name="name">The workflow name.</param>
    /// <param name="version">The version label (the definition content). Default <c>1</c>.</param>
    /// <param name="function">The workflow body.</param>
    /// <returns>The definition that pins runs to this version.</returns>
    public WorkflowDefinition Add(string name, WorkflowFunction function, string version = "1")
    {
        ArgumentNullException.ThrowIfNull(function);
        var definition = new WorkflowDefinition(name, "code:" + version);
        byHash[definition.Hash] = (definition, function);
        latestByName[name] = definition;
        return definition;
    }

    /// <summary>Registers a typed workflow function; input and output are JSON-serialized.</summary>
    /// <typeparam name="TInput">The input type.</typeparam>
    /// <typeparam name="TOutput">The output type.</typeparam>
    /// <param name="name">The workflow name.</param>
    /// <param name="function">The workflow body.</param>
    /// <param name="version">The version label. Default <c>1</c>.</param>
    /// <returns>The definition.</returns>
    public WorkflowDefinition Add<TInput, TOutput>(string name, Func<IWorkflowContext, TInput, Task<TOutput>> function, string version = "1")
    {
        ArgumentNullException.ThrowIfNull(function);
        return Add(
            name,
            async ctx =>
            {
                var input = ctx.GetInput<TInput>();
                var output = await function(ctx, input!).ConfigureAwait(false);
                return JsonSerializer.SerializeToNode(output, WorkflowJson.Options);
            },
            version);
    }

    /// <summary>Gets the latest registered definition of a workflow.</summary>
    /// <param name="name">The workflow name.</param>
    /// <returns>The definition.</returns>
    /// <exception cref="KeyNotFoundException">No workflow of that name is registered.</exception>
    public WorkflowDefinition Get(string name) =>
        latestByName.TryGetValue(name, out var d) ? d : throw new KeyNotFoundException($"No workflow named '{name}' is registered.");

    /// <inheritdoc/>
    public ValueTask<WorkflowFunction?> ResolveAsync(WorkflowDefinition definition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(definition);
        return ValueTask.FromResult(byHash.TryGetValue(definition.Hash, out var entry) ? entry.Function : null);
    }
}
