using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RunbookEngine.Workflows;
using Temporalio.Activities;

namespace RunbookEngine.Temporal;

/// <summary>An attempt of a Temporal activity as the interpreter's <see cref="IStepContext"/>: the same keys as on the kernel.</summary>
internal sealed class TemporalStepContext : IStepContext
{
    private readonly ActivityExecutionContext context;

    public TemporalStepContext(ActivityExecutionContext context, ActivityCall call, ILogger logger)
    {
        this.context = context;
        RunId = context.Info.WorkflowId ?? context.Info.ActivityId; // a standalone activity has no workflow: its own id keys it
        StepName = call.Step;
        Sequence = call.Sequence;
        Attempt = context.Info.Attempt;
        Input = call.Input;
        Logger = logger;
    }

    public string RunId { get; }

    public string StepName { get; }

    public int Sequence { get; }

    public int Attempt { get; }

    public JsonNode? Input { get; }

    public ILogger Logger { get; }

    public CancellationToken CancellationToken => context.CancellationToken;

    public string IdempotencyKey => string.Create(CultureInfo.InvariantCulture, $"{RunId}/{Sequence}/{Attempt}");

    public string StepKey => string.Create(CultureInfo.InvariantCulture, $"{RunId}/{Sequence}");

    /// <inheritdoc/>
    /// <remarks>Temporal's activity heartbeat: it keeps a heartbeat timeout from firing and delivers cancellation.</remarks>
    public void Heartbeat(JsonNode? details = null)
    {
        if (details is null)
        {
            context.Heartbeat();
        }
        else
        {
            context.Heartbeat(details.ToJsonString());
        }
    }
}
