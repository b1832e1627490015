using System.Text.Json.Nodes;

namespace RunbookEngine.Workflows;

/// <summary>
/// The body of a workflow. It must be deterministic: everything that touches the outside world goes through
/// <see cref="IWorkflowContext"/> steps, and time, randomness and ids come from the context.
/// </summary>
/// <param name="context">The run's context.</param>
/// <returns>The run's output, stored as JSON.</returns>
public delegate Task<JsonNode?> WorkflowFunction(IWorkflowContext context);
