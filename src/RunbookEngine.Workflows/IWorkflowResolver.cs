namespace RunbookEngine.Workflows;

/// <summary>Turns a stored definition back into executable workflow code.</summary>
public interface IWorkflowResolver
{
    /// <summary>Resolves the executable workflow for a pinned definition.</summary>
    /// <param name="definition">The definition the run started with, as stored.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The workflow function, or <see langword="null"/> when this process cannot execute it.</returns>
    ValueTask<WorkflowFunction?> ResolveAsync(WorkflowDefinition definition, CancellationToken cancellationToken);
}
