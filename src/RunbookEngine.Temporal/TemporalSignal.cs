using System.Text.Json.Nodes;

namespace RunbookEngine.Temporal;

/// <summary>A signal to a runbook workflow: one Temporal signal (<c>signal</c>) carries every named signal of the interpreter.</summary>
/// <param name="Name">The interpreter's signal name, e.g. <c>approval:approve</c>.</param>
/// <param name="Payload">The payload.</param>
/// <param name="Sender">Who sent it (the actor recorded in the timeline).</param>
public sealed record TemporalSignal(string Name, JsonNode? Payload, string Sender);
