namespace RunbookEngine.Workflows.Storage;

/// <summary>A stored signal.</summary>
/// <param name="Id">The store's id for it, increasing in arrival order.</param>
/// <param name="Name">The signal name.</param>
/// <param name="Payload">The payload as JSON text.</param>
/// <param name="Sender">Who sent it.</param>
/// <param name="ReceivedAt">When it arrived.</param>
/// <param name="ConsumedBySequence">The step position that consumed it, if any.</param>
public sealed record SignalRecord(long Id, string Name, string? Payload, string Sender, DateTimeOffset ReceivedAt, int? ConsumedBySequence);
