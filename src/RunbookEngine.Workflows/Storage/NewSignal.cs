namespace RunbookEngine.Workflows.Storage;

/// <summary>A signal sent to a run.</summary>
/// <param name="Name">The signal name, e.g. <c>approve:deploy</c>.</param>
/// <param name="Payload">The payload as JSON text.</param>
/// <param name="Sender">Who sent it.</param>
/// <param name="At">When it was received.</param>
public sealed record NewSignal(string Name, string? Payload, string Sender, DateTimeOffset At);
