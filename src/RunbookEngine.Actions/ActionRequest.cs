using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace RunbookEngine.Actions;

/// <summary>What an action receives for one plan or execution.</summary>
/// <param name="RunId">The run.</param>
/// <param name="StepId">The runbook step.</param>
/// <param name="Attempt">The attempt number (1-based).</param>
/// <param name="IdempotencyKey">Unique per attempt: run/seq/attempt.</param>
/// <param name="StepKey">The same for every attempt of the step: run/seq. Use it to find what an interrupted attempt did.</param>
/// <param name="With">The evaluated <c>with:</c> values (secret references already resolved when executing; never when planning).</param>
/// <param name="Logger">A logger.</param>
/// <param name="Progress">What an earlier attempt of the step saved with <see cref="SaveProgressAsync"/> (null when none did, and when planning).</param>
/// <param name="SaveProgress">Stores progress durably for the next attempt (the engine's <c>IStepContext.SaveProgressAsync</c>); null keeps nothing.</param>
public sealed record ActionRequest(string RunId, string StepId, int Attempt, string IdempotencyKey, string StepKey, JsonObject With, ILogger Logger, JsonNode? Progress = null, Func<JsonNode, Task>? SaveProgress = null)
{
    /// <summary>
    /// Records how far this attempt got (e.g. the id of an operation started on a remote system) before going on,
    /// so that the next attempt, after a crash or a failure, follows it instead of starting it again. Known secret
    /// values are redacted from it; it is part of the run's record.
    /// </summary>
    /// <param name="progress">What to hand to the next attempt.</param>
    /// <returns>When it is stored.</returns>
    public Task SaveProgressAsync(JsonNode progress) => SaveProgress?.Invoke(progress) ?? Task.CompletedTask;
}
