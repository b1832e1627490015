using System.Text.Json.Serialization;

namespace RunbookEngine.Drills;

/// <summary>One expectation of a drill and whether it held.</summary>
/// <param name="Name">What was expected, e.g. <c>outcome</c>, <c>steps_run: clean</c>, <c>mttr</c>.</param>
/// <param name="Passed">Whether it held.</param>
/// <param name="Expected">What was expected, readable.</param>
/// <param name="Actual">What happened, readable.</param>
/// <param name="Location">Where the expectation is written (file:line:col), or null for one every drill checks.</param>
public sealed record DrillCheck(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("passed")] bool Passed,
    [property: JsonPropertyName("expected")] string Expected,
    [property: JsonPropertyName("actual")] string Actual,
    [property: JsonPropertyName("location")] string? Location = null);
