using System.Text.Json.Nodes;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Workflows.Execution;

/// <summary>
/// A step attempt's saved progress (<see cref="IStepContext.SaveProgressAsync"/>) on the kernel: a
/// <c>step.progress</c> event in the run's timeline, committed under the writer's lease before the call returns, and
/// read back by the step's next attempt. The timeline is where it belongs: what an attempt did on a remote system
/// (an operation it started) is part of the record of the incident, and it is already durable and append-only.
/// </summary>
internal static class StepProgress
{
    private const int Page = 500;

    /// <summary>The timeline event that records progress.</summary>
    public static NewTimelineEvent Event(DateTimeOffset at, string actor, int sequence, string step, int attempt, JsonNode progress) =>
        new(at, actor, TimelineKinds.StepProgress, TimelineData.Of(("seq", sequence), ("step", step), ("attempt", attempt), ("progress", progress)));

    /// <summary>The progress last saved by an attempt of the step at <paramref name="sequence"/>, or null.</summary>
    public static async Task<JsonNode?> LoadAsync(IWorkflowStore store, string runId, int sequence, CancellationToken cancellationToken)
    {
        JsonNode? last = null;
        long after = 0;
        while (true)
        {
            var page = await store.GetTimelineAsync(runId, after, Page, cancellationToken).ConfigureAwait(false);
            foreach (var e in page)
            {
                if (e.Kind == TimelineKinds.StepProgress && e.Data is { } data && JsonNode.Parse(data) is JsonObject o
                    && o["seq"] is JsonValue s && s.TryGetValue<int>(out var seq) && seq == sequence)
                {
                    last = o["progress"]?.DeepClone();
                }
            }

            if (page.Count < Page)
            {
                return last;
            }

            after = page[^1].Sequence;
        }
    }
}
