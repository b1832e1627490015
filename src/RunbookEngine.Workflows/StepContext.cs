using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace RunbookEngine.Workflows;

/// <summary>What a step attempt knows about itself.</summary>
public sealed class StepContext
{
    internal StepContext(string runId, string stepName, int sequence, int attempt, JsonNode? input, ILogger logger, CancellationToken cancellationToken)
    {
        RunId = runId;
        StepName = stepName;
        Sequence = sequence;
        Attempt = attempt;
        Input = input;
        Logger = logger;
        CancellationToken = cancellationToken;
    }

    /// <summary>Gets the run id.</summary>
    public string RunId { get; }

    /// <summary>Gets the step name.</summary>
    public string StepName { get; }

    /// <summary>Gets the step's position in the run.</summary>
    public int Sequence { get; }

    /// <summary>Gets the 1-based attempt number; an attempt interrupted by a crash counts.</summary>
    public int Attempt { get; }

    /// <summary>Gets the input of an activity step (null for inline steps).</summary>
    public JsonNode? Input { get; }

    /// <summary>Gets the logger.</summary>
    public ILogger Logger { get; }

    /// <summary>Gets the token cancelled on attempt timeout, run cancellation or worker shutdown.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>Gets the key unique to this attempt: <c>{run}/{sequence}/{attempt}</c>.</summary>
    public string IdempotencyKey => string.Create(CultureInfo.InvariantCulture, $"{RunId}/{Sequence}/{Attempt}");

    /// <summary>Gets the key shared by every attempt of this step: <c>{run}/{sequence}</c>. Use it to find out what an interrupted attempt already did.</summary>
    public string StepKey => string.Create(CultureInfo.InvariantCulture, $"{RunId}/{Sequence}");
}
