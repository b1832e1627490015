using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A run that was started, or found by its idempotency key.</summary>
/// <param name="Run">The run.</param>
/// <param name="Created">False when an existing run was returned.</param>
public sealed record StartedRun([property: JsonPropertyName("run")] RunView Run, [property: JsonPropertyName("created")] bool Created);
