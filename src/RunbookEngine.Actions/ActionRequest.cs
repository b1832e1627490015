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
public sealed record ActionRequest(string RunId, string StepId, int Attempt, string IdempotencyKey, string StepKey, JsonObject With, ILogger Logger);
