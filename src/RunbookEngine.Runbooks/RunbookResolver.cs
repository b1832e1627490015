using System.Collections.Concurrent;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks.Model;
using RunbookEngine.Runbooks.Scripting;
using RunbookEngine.Workflows;

namespace RunbookEngine.Runbooks;

/// <summary>Rebuilds runbook workflows from their pinned definitions (cached by content hash).</summary>
public sealed class RunbookResolver : IWorkflowResolver
{
    private readonly ActionCatalog actions;
    private readonly ConcurrentDictionary<string, WorkflowFunction> cache = new(StringComparer.Ordinal);

    /// <summary>Initializes a new instance of the <see cref="RunbookResolver"/> class.</summary>
    /// <param name="actions">The actions.</param>
    public RunbookResolver(ActionCatalog actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        this.actions = actions;
    }

    /// <inheritdoc/>
    public ValueTask<WorkflowFunction?> ResolveAsync(WorkflowDefinition definition, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(definition);
        if (cache.TryGetValue(definition.Hash, out var cached))
        {
            return ValueTask.FromResult<WorkflowFunction?>(cached);
        }

        if (RunbookDefinitions.Parse(actions, definition) is not { } parsed)
        {
            return ValueTask.FromResult<WorkflowFunction?>(null);
        }

        // The text was valid when the run started; it no longer is only if the engine changed under it.
        var runbook = parsed.Runbook ?? throw new RunbookValidationException(parsed.Problems);
        var function = runbook.Language == RunbookLanguage.Script
            ? ScriptRunbooks.Workflow(runbook, actions)
            : new RunbookWorkflow(runbook, actions).RunAsync;
        cache[definition.Hash] = function;
        return ValueTask.FromResult<WorkflowFunction?>(function);
    }
}
