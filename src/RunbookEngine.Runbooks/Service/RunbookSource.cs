using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>A runbook's text, to validate.</summary>
/// <param name="File">The file name it is reported under.</param>
/// <param name="Source">Its content.</param>
public sealed record RunbookSource([property: JsonPropertyName("file")] string File, [property: JsonPropertyName("source")] string Source);
