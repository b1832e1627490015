using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace RunbookEngine.Workflows.Execution;

/// <summary>The kernel's <see cref="IWorkflowContext"/>: every operation goes to the run's execution under its lease.</summary>
internal sealed class KernelWorkflowContext : IWorkflowContext
{
    private readonly RunExecution execution;

    internal KernelWorkflowContext(RunExecution execution)
    {
        this.execution = execution;
        Input = WorkflowJson.Parse(execution.Run.Input);
        Logger = new ReplaySafeLogger(execution.Logger, () => execution.IsReplaying);
    }

    public string RunId => execution.Run.RunId;

    public string WorkflowName => execution.Run.WorkflowName;

    public string DefinitionHash => execution.Run.DefinitionHash;

    public string StartedBy => execution.Run.CreatedBy;

    public JsonNode? Input { get; }

    /// <summary>Gets the run's creation time, then the time of the latest step, timer or signal outcome reached.</summary>
    public DateTimeOffset UtcNow => execution.WorkflowTime;

    /// <summary>Gets a random generator seeded from the run id.</summary>
    public Random Random => execution.Random;

    public ILogger Logger { get; }

    public bool IsReplaying => execution.IsReplaying;

    public CancellationToken CancellationToken => execution.CancellationToken;

    public Guid NewGuid() => execution.NewGuid();

    public Task<JsonNode?> ActivityAsync(string name, string activity, string? queue, JsonNode? input = null, StepOptions? options = null) =>
        queue is null ? execution.LocalActivityAsync(name, activity, input, options) : execution.ActivityAsync(name, activity, queue, input, options);

    public Task<T> StepAsync<T>(string name, Func<IStepContext, Task<T>> body, StepOptions? options = null) =>
        execution.StepAsync(name, body, options);

    public Task RecordAsync(string name, string kind, JsonNode? data = null) =>
        execution.RecordAsync(name, kind, data?.ToJsonString(WorkflowJson.Options));

    public Task DelayAsync(TimeSpan duration, string name = "sleep") => execution.DelayAsync(duration, name);

    public Task UncancellableAsync(Func<Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return execution.UncancellableAsync(body);
    }

    public Task<ReceivedSignal?> WaitForSignalAsync(string signalName, TimeSpan? timeout = null, string? name = null) =>
        execution.WaitForSignalAsync(signalName, timeout, name ?? "wait:" + signalName);
}
