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

    public TemporalStepContext(ActivityExecutionContext context, ActivityCall call, ILogger logger, JsonNode? progress = null)
    {
        this.context = context;
        Progress = progress;
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

    /// <inheritdoc/>
    /// <remarks>On Temporal: the details of the last heartbeat the server received from an earlier attempt.</remarks>
    public JsonNode? Progress { get; private set; }

    public string IdempotencyKey => string.Create(CultureInfo.InvariantCulture, $"{RunId}/{Sequence}/{Attempt}");

    public string StepKey => string.Create(CultureInfo.InvariantCulture, $"{RunId}/{Sequence}");

    /// <summary>What the previous attempt last heartbeat as its progress (JSON text), or null.</summary>
    public static async Task<JsonNode?> ProgressAsync(ActivityExecutionContext context) =>
        context.Info.HeartbeatDetails.Count > 0 && await context.Info.HeartbeatDetailAtAsync<string>(0).ConfigureAwait(false) is { Length: > 0 } text
            ? JsonNode.Parse(text)
            : null;

    /// <inheritdoc/>
    /// <remarks>
    /// On Temporal, progress is the activity heartbeat's details: the SDK sends the first heartbeat at once and
    /// throttles later ones, and a retried attempt gets the details of the last heartbeat the server received. A
    /// local activity cannot heartbeat, so its progress stays in this attempt.
    /// </remarks>
    public Task SaveProgressAsync(JsonNode progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        Progress = progress.DeepClone();
        if (!context.Info.IsLocal)
        {
            Heartbeat(Progress);
        }

        return Task.CompletedTask;
    }

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
