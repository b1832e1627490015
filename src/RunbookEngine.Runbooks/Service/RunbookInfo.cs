using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A runbook found in the runbook directories.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Description">Its description.</param>
/// <param name="File">Its file.</param>
/// <param name="Valid">Whether it is valid.</param>
/// <param name="Problems">How many problems it has.</param>
/// <param name="Inputs">Its input names.</param>
public sealed record RunbookInfo(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("valid")] bool Valid,
    [property: JsonPropertyName("problems")] int Problems,
    [property: JsonPropertyName("inputs")] IReadOnlyList<string> Inputs);
