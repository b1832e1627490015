namespace RunbookEngine.Workflows.Storage;

/// <summary>An event to append; the store assigns its sequence number and hash.</summary>
/// <param name="At">When it happened.</param>
/// <param name="Actor">Who caused it.</param>
/// <param name="Kind">What happened.</param>
/// <param name="Data">Details as JSON text.</param>
public sealed record NewTimelineEvent(DateTimeOffset At, string Actor, string Kind, string? Data);
