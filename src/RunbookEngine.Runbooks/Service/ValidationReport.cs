using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>The validation of one runbook source.</summary>
/// <param name="File">The file.</param>
/// <param name="Name">The runbook's name, when valid.</param>
/// <param name="Valid">Whether it is valid.</param>
/// <param name="Problems">Its problems.</param>
public sealed record ValidationReport(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("valid")] bool Valid,
    [property: JsonPropertyName("problems")] IReadOnlyList<ProblemView> Problems);
