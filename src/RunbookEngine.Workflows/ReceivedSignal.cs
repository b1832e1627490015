using System.Text.Json.Nodes;

namespace RunbookEngine.Workflows;

/// <summary>A signal delivered to a waiting workflow.</summary>
/// <param name="Name">The signal name.</param>
/// <param name="Payload">The payload.</param>
/// <param name="Sender">Who sent it.</param>
/// <param name="ReceivedAt">When the store received it.</param>
public sealed record ReceivedSignal(string Name, JsonNode? Payload, string Sender, DateTimeOffset ReceivedAt);
