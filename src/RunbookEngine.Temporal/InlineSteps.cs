using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;

namespace RunbookEngine.Temporal;

/// <summary>
/// Code of the workflow's own (a C# script's <c>Step(...)</c>) run as a Temporal local activity. A closure cannot
/// travel to another process, but a local activity runs in the worker that runs the workflow, so the workflow
/// leaves the closure here under its run and position just before scheduling it, the local activity (and each of
/// its retries) runs it, and the workflow forgets it once the step has ended.
/// </summary>
/// <remarks>
/// On replay a completed local activity returns its recorded result and the closure is never called; after a
/// worker restart the workflow replays up to the pending step and leaves the closure again, so nothing is lost.
/// </remarks>
internal static class InlineSteps
{
    /// <summary>The local activity type.</summary>
    public const string ActivityName = "runbook.inline";

    private static readonly ConcurrentDictionary<string, Func<IStepContext, Task<JsonNode?>>> Pending = new(StringComparer.Ordinal);

    public static string Key(string workflowId, string runId, int sequence) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{workflowId}/{runId}/{sequence}");

    public static void Leave(string key, Func<IStepContext, Task<JsonNode?>> body) => Pending[key] = body;

    public static bool TryPeek(string key, out Func<IStepContext, Task<JsonNode?>> body) => Pending.TryGetValue(key, out body!);

    public static void Forget(string key) => Pending.TryRemove(key, out _);
}
