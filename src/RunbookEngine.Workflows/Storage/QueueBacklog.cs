namespace RunbookEngine.Workflows.Storage;

/// <summary>What waits for a worker on one task queue: runs whose workflow code is due, or activity steps.</summary>
/// <param name="Queue">The task queue.</param>
/// <param name="Kind"><c>run</c> (workflow code due: new, woken or timer fired) or <c>step</c> (an activity on the queue).</param>
/// <param name="Count">How many are due and unclaimed.</param>
/// <param name="OldestDueAt">When the one waiting longest became due.</param>
public sealed record QueueBacklog(string Queue, string Kind, long Count, DateTimeOffset OldestDueAt);
