using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace RunbookEngine.Workflows;

/// <summary>The kernel's <see cref="IStepContext"/>, also a plain one for tools and tests that run a step body themselves.</summary>
public sealed class StepContext : IStepContext
{
    private readonly Func<JsonNode, Task>? saveProgress;

    /// <summary>Initializes a new instance of the <see cref="StepContext"/> class.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="stepName">The step name.</param>
    /// <param name="sequence">The step's position.</param>
    /// <param name="attempt">The 1-based attempt.</param>
    /// <param name="input">The activity's input.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="cancellationToken">The attempt's token.</param>
    public StepContext(string runId, string stepName, int sequence, int attempt, JsonNode? input, ILogger logger, CancellationToken cancellationToken)
        : this(runId, stepName, sequence, attempt, input, logger, cancellationToken, null, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StepContext"/> class that keeps progress somewhere.</summary>
    /// <param name="runId">The run id.</param>
    /// <param name="stepName">The step name.</param>
    /// <param name="sequence">The step's position.</param>
    /// <param name="attempt">The 1-based attempt.</param>
    /// <param name="input">The activity's input.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="cancellationToken">The attempt's token.</param>
    /// <param name="progress">What an earlier attempt saved.</param>
    /// <param name="saveProgress">Stores progress durably; null keeps it in this context only.</param>
    public StepContext(string runId, string stepName, int sequence, int attempt, JsonNode? input, ILogger logger, CancellationToken cancellationToken, JsonNode? progress, Func<JsonNode, Task>? saveProgress)
    {
        this.saveProgress = saveProgress;
        Progress = progress;
        RunId = runId;
        StepName = stepName;
        Sequence = sequence;
        Attempt = attempt;
        Input = input;
        Logger = logger;
        CancellationToken = cancellationToken;
    }

    /// <inheritdoc/>
    public string RunId { get; }

    /// <inheritdoc/>
    public string StepName { get; }

    /// <inheritdoc/>
    public int Sequence { get; }

    /// <inheritdoc/>
    public int Attempt { get; }

    /// <inheritdoc/>
    public JsonNode? Input { get; }

    /// <inheritdoc/>
    public ILogger Logger { get; }

    /// <inheritdoc/>
    public CancellationToken CancellationToken { get; }

    /// <inheritdoc/>
    public JsonNode? Progress { get; private set; }

    /// <inheritdoc/>
    public string IdempotencyKey => string.Create(CultureInfo.InvariantCulture, $"{RunId}/{Sequence}/{Attempt}");

    /// <inheritdoc/>
    public string StepKey => string.Create(CultureInfo.InvariantCulture, $"{RunId}/{Sequence}");

    /// <inheritdoc/>
    public async Task SaveProgressAsync(JsonNode progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var copy = progress.DeepClone();
        if (saveProgress is not null)
        {
            await saveProgress(copy).ConfigureAwait(false);
        }

        Progress = copy;
    }

    /// <inheritdoc/>
    /// <remarks>A no-op: the worker renews the leases of all it holds by its own heartbeat.</remarks>
    public void Heartbeat(JsonNode? details = null)
    {
    }
}
