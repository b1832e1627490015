using System.Text.Json.Serialization;

namespace RunbookEngine.Runbooks.Service;

/// <summary>One problem, located.</summary>
/// <param name="File">The file.</param>
/// <param name="Line">The line (1-based).</param>
/// <param name="Column">The column (1-based).</param>
/// <param name="Message">What is wrong.</param>
/// <param name="Severity"><c>error</c> (the runbook is invalid) or <c>warning</c> (it is valid and runs).</param>
public sealed record ProblemView(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("line")] int Line,
    [property: JsonPropertyName("column")] int Column,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("severity")] string Severity = "error")
{
    /// <inheritdoc/>
    public override string ToString() => Severity == "warning" ? $"{File}:{Line}:{Column}: warning: {Message}" : $"{File}:{Line}:{Column}: {Message}";
}
