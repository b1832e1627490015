using System.Text.Json;

namespace RunbookEngine.Workflows;

/// <summary>Conveniences over <see cref="IWorkflowContext"/> that every engine gets alike.</summary>
public static class WorkflowContextExtensions
{
    /// <summary>Deserializes the run's input.</summary>
    /// <typeparam name="T">The input type.</typeparam>
    /// <param name="context">The context.</param>
    /// <returns>The input, or default when there is none.</returns>
    public static T? GetInput<T>(this IWorkflowContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Input is null ? default : context.Input.Deserialize<T>(WorkflowJson.Options);
    }

    /// <summary>Runs code that returns nothing as a durable step.</summary>
    /// <param name="context">The context.</param>
    /// <param name="name">The step name.</param>
    /// <param name="body">The step code.</param>
    /// <param name="options">Retry and timeouts.</param>
    /// <returns>A task.</returns>
    public static Task StepAsync(this IWorkflowContext context, string name, Func<IStepContext, Task> body, StepOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(body);
        return context.StepAsync<bool>(
            name,
            async sc =>
            {
                await body(sc).ConfigureAwait(false);
                return true;
            },
            options);
    }
}
