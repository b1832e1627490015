using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>One checkpointed step of a run.</summary>
/// <param name="Seq">Its position.</param>
/// <param name="Name">Its name.</param>
/// <param name="Kind">activity, sleep, signal, ...</param>
/// <param name="Status">Its status.</param>
/// <param name="Attempt">Its attempt.</param>
/// <param name="ErrorKind">The error kind.</param>
/// <param name="Error">The error.</param>
/// <param name="Output">The output.</param>
/// <param name="Activity">The activity an action step called (<c>action:shell</c>, <c>plan:http</c>), or null.</param>
/// <param name="Input">What it was called with (<c>{ step, with }</c>, secret references unresolved), or null.</param>
public sealed record StepView(
    [property: JsonPropertyName("seq")] int Seq,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("attempt")] int Attempt,
    [property: JsonPropertyName("error_kind")] string? ErrorKind,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("output")] JsonNode? Output,
    [property: JsonPropertyName("activity")] string? Activity = null,
    [property: JsonPropertyName("input")] JsonNode? Input = null);
